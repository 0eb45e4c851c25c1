-- Chargebacks (charging/disputes.ts): the cardholder's bank disputed a charge
-- that paid an invoice and took its amount back (charge.dispute.funds_withdrawn),
-- and may give it back when the dispute is won (charge.dispute.funds_reinstated).
-- One row per gateway dispute, matched to the invoice through the PaymentIntent
-- our charge row recorded. The invoice's status does not move: the money's
-- whereabouts are shown beside it (amount_disputed = withdrawn, not reinstated).
-- Either event may come first; each sets its own column once and never clears it.
create table invoice_disputes (
  dispute_id        text primary key,
  invoice_id        text not null references invoices,
  payment_intent_id text not null,
  charge_id         text not null,
  amount            numeric(14, 2) not null check (amount > 0),
  currency          text not null,
  reason            text,
  withdrawn_at      timestamptz,
  withdrawn_event   text,
  reinstated_at     timestamptz,
  reinstated_event  text,
  check ((withdrawn_at is null) = (withdrawn_event is null)),
  check ((reinstated_at is null) = (reinstated_event is null)),
  check (withdrawn_at is not null or reinstated_at is not null)
);
create index invoice_disputes_invoice on invoice_disputes (invoice_id);
