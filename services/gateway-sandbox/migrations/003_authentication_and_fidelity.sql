-- Issue 18: 3-D Secure test cards, and fields merchants rely on.
-- A card saved after authenticating (SetupIntent, or setup_future_usage) may
-- be charged off-session without the cardholder (4000002500003155).
alter table payment_methods add column set_up boolean not null default false;

-- requires_action: the next action (a challenge page) is kept on the intent.
alter table payment_intents
  add column next_action jsonb,
  add column receipt_email text,
  add column statement_descriptor_suffix text;
alter table setup_intents add column next_action jsonb;
alter table charges
  add column receipt_email text,
  add column statement_descriptor_suffix text;

-- customers.del: Stripe keeps answering a deleted customer's id with {deleted: true};
-- the row stays (intents and charges refer to it), out of lists and new uses.
alter table customers add column deleted boolean not null default false;

-- One 3-D Secure challenge of one confirmation: its random id is the challenge
-- page's address (a bearer secret, as Stripe's hooks URLs are). A new
-- confirmation, or a cancel, abandons the pending one.
create table authentications (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  payment_intent text references payment_intents (id),
  setup_intent text references setup_intents (id),
  return_url text,
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed', 'abandoned')),
  check ((payment_intent is null) <> (setup_intent is null))
);
create index authentications_payment_intent on authentications (payment_intent) where status = 'pending';
create index authentications_setup_intent on authentications (setup_intent) where status = 'pending';
