-- The fingerprint backfill's attempts (cards/fingerprint-backfill.ts). Cards
-- saved before 007 have no fingerprint, so invoicing blocked a card charged
-- back as fraud by its payment method alone: the same stolen card typed in
-- again was charged. A background pass reads each one's fingerprint from the
-- gateway. Each read is recorded here before it is sent (a claim: another
-- process leaves it alone until `retry_at`, and a kill mid-read costs only
-- that wait), then its outcome: a card filled drops its row; a payment method
-- the gateway says is gone, or that it would not read, waits `retry_at`
-- (longer with each try), never asked again every tick. By payment method:
-- a card replaced meanwhile is another payment method, with no attempts yet.
create table card_fingerprint_reads (
  payment_method_id text collate "C" primary key,
  tries             integer not null default 0,
  -- 'reading' (claimed), 'gone' (resource_missing, or no card fingerprint), 'unanswered' (an error, a timeout).
  outcome           text not null check (outcome in ('reading', 'gone', 'unanswered')),
  retry_at          timestamptz not null,
  read_at           timestamptz not null default now()
);

-- The backfill's candidates: the few cards still without one.
create index cards_without_fingerprint on cards (added_at) where fingerprint is null;
