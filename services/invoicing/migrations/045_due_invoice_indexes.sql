-- The minute loops read what is due by index (charging/store.ts, accounts/standing.ts).
-- Both are partial: they hold the unpaid invoices only, a few among the months of paid ones.
--
-- The charging pass's candidates (store.ts CANDIDATES): its status and total filter, in the
-- order it charges and pages by. Without it each pass scanned every invoice and every charge
-- (1.3 s a pass with 1.25M invoices and 100 due).
create index invoices_chargeable on invoices (finalized_at, number)
  where status in ('finalized', 'past_due', 'action_required') and total > 0;
-- The standing review's past-due invoices (standing.ts CANDIDATES, and each account's lock
-- and read of them): charges_past_due (008) needs `state = 'past_due'`, which the review
-- cannot say (a past-due invoice's row may wait for its cardholder), so it scanned every charge.
create index invoices_past_due on invoices (account_id) where status = 'past_due';
-- Plain `create index`, not `concurrently`: each migration runs in a transaction (migrate.ts).
-- The build reads the table once and holds a SHARE lock meanwhile: reads go on, writes to
-- invoices (finalize, payments) wait, a few seconds for a million invoices. A migration
-- queued behind a long transaction fails after its lock_timeout (60 s) and the boot is tried again.
