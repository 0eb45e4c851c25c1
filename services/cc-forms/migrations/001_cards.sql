-- The card form's state. Only what the gateway tells about a card is kept
-- (brand, last four digits, expiry, its ids): never a card number or a CVC.

-- Each account's customer at the gateway, created once with the idempotency
-- key `customer:<account_id>`.
create table customers (
  account_id  text collate "C" primary key,
  customer_id text not null unique,
  created_at  timestamptz not null default now()
);

-- The account's card on file: the payment method of its last successful setup.
create table cards (
  account_id        text collate "C" primary key references customers,
  customer_id       text not null references customers (customer_id),
  payment_method_id text not null,
  setup_intent_id   text not null,
  brand             text not null,
  last4             text not null check (last4 ~ '^[0-9]{4}$'),
  exp_month         integer not null check (exp_month between 1 and 12),
  exp_year          integer not null check (exp_year between 2000 and 9999),
  -- When this card became the one on file: invoicing retries a past-due
  -- invoice once a card is newer than its last charge attempt.
  added_at          timestamptz not null default now()
);

-- Web sessions opened by a sign-in link; the cookie holds the id, we keep its hash.
create table sessions (
  hash       text primary key,
  account_id text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);

-- One row per card attempt (a setup intent asked for): the rate limit counts
-- an account's rows of the last hour. Older rows are deleted as new ones come.
create table card_attempts (
  id         bigint generated always as identity primary key,
  account_id text collate "C" not null,
  at         timestamptz not null default now()
);
create index card_attempts_by_account on card_attempts (account_id, at);

-- Published for invoicing's charger: exactly these columns.
create view cards_on_file as
  select account_id, customer_id, payment_method_id, brand, last4, exp_month, exp_year, added_at
  from cards;
