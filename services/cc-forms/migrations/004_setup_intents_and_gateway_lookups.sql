-- Each setup intent cc-forms opened, and for which account: POST /card asks the
-- gateway only about ids found here for the signed-in account, so a script
-- posting made-up or foreign ids costs no call with the platform's secret key.
-- Rows come at most CARD_ATTEMPTS_PER_HOUR an hour per account (each is an attempt).
create table setup_intents (
  id         text collate "C" primary key,
  account_id text collate "C" not null,
  created_at timestamptz not null default now()
);
create index setup_intents_by_account on setup_intents (account_id);

-- One row per gateway lookup a signed-in account caused (a PaymentIntent read
-- for /payments/:id, a setup intent of its own checked for POST /card): the
-- limit counts an account's rows of the last minute. Older rows are deleted as
-- new ones come.
create table gateway_lookups (
  id         bigint generated always as identity primary key,
  account_id text collate "C" not null,
  at         timestamptz not null default now()
);
create index gateway_lookups_by_account on gateway_lookups (account_id, at);
