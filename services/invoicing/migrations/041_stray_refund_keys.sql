-- The idempotency key a stray payment's refund (charging/stray-refund.ts, vault
-- refund-stray) goes under when its state's own key is spent. That key is
-- built from the payment's state (its refunds, what they and lost disputes gave
-- back: stray-refund-answer.ts), so a run again before the gateway answered
-- sends the same refund. But the gateway keeps a 500 under a key and replays it
-- for a day: the same state meant the same key, and the stray stayed unrefunded
-- that long. Once the gateway shows no refund made under the key (a refund
-- carries its key in its metadata), a new key is stored here, before it is
-- sent: a run killed after the send sends this one again, never a third.
create table stray_refund_keys (
  -- The state's own key (refundKey): one row per state of the payment.
  base_key          text primary key,
  payment_intent_id text not null,
  -- The key the refund of this state goes under now.
  idempotency_key   text not null,
  renewed_at        timestamptz not null default now()
);
