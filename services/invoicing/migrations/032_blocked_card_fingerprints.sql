-- Cards reported stolen, by fingerprint too (charging/blocked-cards.ts). A card
-- was blocked by its payment method alone, and only once its chargeback matched
-- its invoice: the same stolen card typed in again on the card form is a new
-- payment method and was charged at once (another chargeback, another fee).
-- The block now names the gateway's fingerprint of the card the disputed charge
-- used (read from the gateway, `payment_method_details.card.fingerprint`), and a
-- card on file is blocked when its payment method or its fingerprint is.
-- Rows written before have none (null): they still block their payment method.
alter table blocked_payment_methods add column fingerprint text;
create index blocked_payment_methods_fingerprint on blocked_payment_methods (fingerprint) where fingerprint is not null;

-- Every PaymentIntent a charge row has held, kept when the row lets it go (a
-- stray released: save-payment.ts): a chargeback of it is still of our charge
-- and blocks its card (disputes.ts). Written by the trigger below in the
-- transaction that writes the row (after the invoice's lock); never deleted.
create table charge_payment_intents (
  payment_intent_id text primary key,
  invoice_id        text not null references invoices (id),
  held_at           timestamptz not null default now()
);

insert into charge_payment_intents (payment_intent_id, invoice_id, held_at)
  select payment_intent_id, invoice_id, updated_at from charges where payment_intent_id is not null
  on conflict do nothing;

create function remember_charge_payment_intent() returns trigger language plpgsql as $$
begin
  insert into invoicing.charge_payment_intents (payment_intent_id, invoice_id)
    values (new.payment_intent_id, new.invoice_id) on conflict do nothing;
  return null;
end $$;

create trigger charges_remember_payment_intent after insert or update of payment_intent_id on charges
  for each row when (new.payment_intent_id is not null) execute function remember_charge_payment_intent();
