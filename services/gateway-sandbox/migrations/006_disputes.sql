-- Disputes (chargebacks), as Stripe's test mode makes them: a charge of the
-- card 4000000000000259 succeeds and is then disputed as fraudulent, its
-- amount withdrawn at once. Evidence decides it (winning_evidence /
-- losing_evidence); a won dispute reinstates the funds.
create table disputes (
  seq bigserial unique,
  id text primary key,
  created bigint not null,
  amount bigint not null check (amount > 0),
  currency text not null,
  charge text not null unique references charges (id),
  payment_intent text references payment_intents (id),
  reason text not null,
  status text not null check (status in ('needs_response', 'under_review', 'won', 'lost')),
  -- The evidence given so far (Stripe's evidence hash, unset fields absent).
  evidence jsonb not null default '{}',
  submission_count int not null default 0,
  -- Its balance transactions, as shown: the withdrawal, then a reinstatement if won.
  balance_transactions jsonb not null default '[]',
  metadata jsonb not null default '{}'
);
create index disputes_payment_intent on disputes (payment_intent, seq);

-- charge.disputed: a dispute was opened on it.
alter table charges add column disputed boolean not null default false;
