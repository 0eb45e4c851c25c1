-- `vault token list --account X` (access/tokens.ts listTokens): its count and its cursor read one
-- account's tokens, oldest first. Tokens are kept for ever (revoked and expired ones too) and nothing
-- indexed them by account, so each listing read the whole table (a Seq Scan, then a sort). By account
-- in the listing's order: the rows come in (created_at, id) order, no sort.
create index tokens_by_account on tokens (account_id, created_at, id);
-- 008's charges_past_due (past_due_at) where state = 'past_due': no query says `state = 'past_due'`
-- any more (045's comment), so the planner can never pick it, and every write to a past-due charge row
-- kept it up to date for nothing. EXPLAIN of every query reading past_due_at (the standing review's
-- candidates and each account's read, the account route's past-due list) shows it unused.
drop index charges_past_due;
-- Plain `create index` / `drop index`, not `concurrently`: each migration runs in a transaction
-- (migrate.ts), as 045's did. The build reads tokens once, writes to tokens (a token made or revoked)
-- waiting meanwhile; the drop holds charges only for the instant of its catalog change. A migration
-- queued behind a long transaction fails after its lock_timeout (60 s) and the boot is tried again.
