-- Charging finalized invoices (billing-rules.md, Payment). The invoices stay
-- immutable: their `status` is the only thing charging moves.

-- One row per invoice the charger has taken up. An attempt is one confirm of
-- the invoice's PaymentIntent, sent with the key `<invoice id>:attempt:<n>`,
-- n = attempts + 1: `attempts` counts the answers recorded, so a crash before
-- the answer is recorded replays the same key and gets the same answer.
create table charges (
  invoice_id         text primary key references invoices,
  -- The invoice's one PaymentIntent (created with the invoice id as key).
  payment_intent_id  text unique,
  -- scheduled: an attempt is due at next_attempt_at (or is in flight);
  -- past_due: the last retry was declined, or there was no card; waits for another card;
  -- paid: the PaymentIntent succeeded. Absorbing.
  state              text not null check (state in ('scheduled', 'past_due', 'paid')),
  attempts           integer not null default 0 check (attempts >= 0),
  -- `attempts` when the current round began: a card other than the one last
  -- tried starts a new round, with the retry schedule from its beginning.
  round_start        integer not null default 0 check (round_start >= 0 and round_start <= attempts),
  -- The card of attempt attempts + 1 once it is chosen, before it is sent:
  -- a replay after a crash sends exactly the same request.
  pending_payment_method_id text,
  -- The card of the last answered attempt.
  last_payment_method_id    text,
  last_attempt_at    timestamptz,
  next_attempt_at    timestamptz,
  last_error_code    text,
  last_decline_code  text,
  last_error_message text,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  check ((state = 'scheduled') = (next_attempt_at is not null))
);

-- Gateway webhook events already handled: a redelivery answers 200 and does nothing.
create table gateway_events (
  id          text primary key,
  type        text not null,
  received_at timestamptz not null default now()
);

-- Invoicing's webhook endpoint at the gateway, registered through its API
-- (unless GATEWAY_WEBHOOK_SECRET is configured). The row is written with its
-- idempotency key before the request, so a crash in between replays the same
-- registration instead of making a second endpoint. The secret verifies
-- deliveries; it cannot be a hash.
create table webhook_endpoints (
  url             text primary key,
  idempotency_key text not null,
  endpoint_id     text,
  secret          text,
  registered_at   timestamptz,
  check ((endpoint_id is null) = (secret is null))
);
