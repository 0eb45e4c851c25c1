-- The sandbox's whole state: every object of its Stripe subset, the webhook
-- outbox and the idempotency records, so a restart (or kill -9) loses nothing.
-- Runs with search_path = gateway_sandbox. `seq` orders lists newest first
-- (`created` is whole seconds, too coarse to order by).
-- Card numbers and CVCs have no column anywhere: only what Stripe shows back.

-- The key of the card fingerprints (HMAC-SHA256), random per database, so a
-- fingerprint says "same card" inside one sandbox and nothing outside it.
create table fingerprint_key (
  only_row boolean primary key default true check (only_row),
  key bytea not null check (octet_length(key) = 32)
);
insert into fingerprint_key (key)
  values (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));

create table customers (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  email text,
  name text,
  description text,
  phone text,
  metadata jsonb not null default '{}',
  default_payment_method text
);

create table payment_methods (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  customer text references customers (id),
  brand text not null,
  last4 text not null check (last4 ~ '^[0-9]{4}$'),
  exp_month int not null check (exp_month between 1 and 12),
  exp_year int not null,
  fingerprint text not null,
  funding text not null,
  cvc_check text check (cvc_check in ('pass', 'fail', 'unchecked')),
  -- The test behaviour derived from the number at creation (test-cards.ts).
  behaviour text not null,
  billing_details jsonb not null,
  metadata jsonb not null default '{}'
);
create index payment_methods_customer on payment_methods (customer, seq);

create table setup_intents (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  customer text references customers (id),
  payment_method text references payment_methods (id),
  status text not null,
  usage text not null,
  client_secret text not null,
  payment_method_types jsonb not null,
  description text,
  last_setup_error jsonb,
  cancellation_reason text,
  metadata jsonb not null default '{}'
);

create table payment_intents (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  amount bigint not null check (amount > 0),
  amount_received bigint not null default 0,
  currency text not null,
  customer text references customers (id),
  payment_method text references payment_methods (id),
  status text not null,
  client_secret text not null,
  description text,
  payment_method_types jsonb not null,
  setup_future_usage text,
  last_payment_error jsonb,
  latest_charge text,
  canceled_at bigint,
  cancellation_reason text,
  metadata jsonb not null default '{}'
);
create index payment_intents_customer on payment_intents (customer, seq);

create table charges (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  amount bigint not null,
  amount_refunded bigint not null default 0 check (amount_refunded between 0 and amount),
  currency text not null,
  customer text references customers (id),
  payment_intent text references payment_intents (id),
  payment_method text references payment_methods (id),
  status text not null check (status in ('succeeded', 'failed')),
  failure_code text,
  failure_message text,
  outcome jsonb not null,
  description text,
  metadata jsonb not null default '{}'
);
create index charges_payment_intent on charges (payment_intent, seq);
create index charges_customer on charges (customer, seq);
-- At most one succeeded charge per PaymentIntent: the at-most-once guarantee,
-- held by the database even if the code had a hole.
create unique index charges_one_success on charges (payment_intent) where status = 'succeeded';

create table refunds (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  amount bigint not null check (amount > 0),
  currency text not null,
  charge text not null references charges (id),
  payment_intent text references payment_intents (id),
  reason text,
  metadata jsonb not null default '{}'
);

create table webhook_endpoints (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  url text not null,
  enabled_events jsonb not null,
  secret text not null,
  status text not null check (status in ('enabled', 'disabled')),
  description text,
  api_version text,
  metadata jsonb not null default '{}'
);

create table events (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  type text not null,
  api_version text not null,
  -- {object, previous_attributes?}: the object as it was when the event happened.
  data jsonb not null,
  request_id text,
  idempotency_key text
);
create index events_type on events (type, seq);

-- The outbox: one row per (event, endpoint subscribed when it happened),
-- written in the event's transaction; the delivery loop empties it.
create table deliveries (
  event_id text not null references events (id) on delete cascade,
  endpoint_id text not null references webhook_endpoints (id) on delete cascade,
  attempts int not null default 0,
  next_attempt_at timestamptz not null default now(),
  delivered_at timestamptz,
  last_status int,
  last_error text,
  primary key (event_id, endpoint_id)
);
create index deliveries_due on deliveries (next_attempt_at) where delivered_at is null;

-- A POST's first answer, replayed for the same key (scoped to the API key's hash).
create table idempotency_keys (
  api_key_hash text not null,
  key text not null,
  method text not null,
  path text not null,
  params_hash text not null,
  status int not null,
  body jsonb not null,
  request_id text not null,
  created_at timestamptz not null default now(),
  primary key (api_key_hash, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);
