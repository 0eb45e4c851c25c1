-- The order in which setup intents were opened here: of an account's setup
-- intents, a later-opened one's card wins. One opened before the card on file's
-- (an old tab, a retried request within the day its row is kept) is refused
-- rather than putting back the card the customer replaced. A sequence rather
-- than created_at: no ties, and no clock to trust. The rows already kept (a
-- day's) are numbered in the order they were opened, not as stored.
alter table setup_intents add column seq bigint;
update setup_intents s set seq = o.n
  from (select id, row_number() over (order by created_at, id) as n from setup_intents) o
 where o.id = s.id;
alter table setup_intents alter column seq set not null;
alter table setup_intents alter column seq add generated always as identity;
select setval(pg_get_serial_sequence('setup_intents', 'seq'), coalesce((select max(seq) from setup_intents), 0) + 1, false);
