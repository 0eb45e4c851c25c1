-- The charging pass's reads of a blocked card's fingerprint from the gateway
-- (charging/block-card-reads.ts). A fraud block made without one (a card
-- saved before cc-forms kept them; our own card of record when the gateway
-- would not say) took it only from cc-forms' cards on file, and a blocked card
-- is refused at charge, so its customer replaces it: the payment method left
-- the file and the block never got its fingerprint, and the same stolen card
-- typed in again was saved and charged. The gateway still answers for a
-- replaced (detached) payment method, so the pass asks it, a few a pass. Each
-- read is claimed here before it is sent (a kill mid-read costs only the
-- claim's wait), then its outcome: a block filled drops its row; a payment
-- method the gateway says is gone, or that it would not read, waits
-- `retry_at` (longer with each try), never asked again at every pass.
create table block_fingerprint_reads (
  payment_method_id text primary key,
  tries             integer not null default 0,
  -- 'reading' (claimed), 'gone' (resource_missing, or no card fingerprint), 'unanswered' (an error, a timeout).
  outcome           text not null check (outcome in ('reading', 'gone', 'unanswered')),
  retry_at          timestamptz not null,
  read_at           timestamptz not null default now()
);

-- Each other account told its card on file matches a block (charge.card_blocked_elsewhere,
-- charging/blocked-elsewhere.ts), by that card and the block's dispute: said once, whether at the
-- block, when the block's fingerprint is filled, or when a pass revokes a PaymentIntent waiting on
-- that card (its fingerprint learned since). A block lifted and made again by another dispute is
-- told again.
create table blocked_elsewhere_told (
  payment_method_id text not null,
  dispute_id        text not null,
  account_id        text not null,
  told_at           timestamptz not null default now(),
  primary key (payment_method_id, dispute_id)
);
