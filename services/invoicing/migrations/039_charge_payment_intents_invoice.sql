-- The PaymentIntents an invoice's charge row has held, found by the invoice: the
-- asked-again notice names the one held just before the new ask
-- (charging/asked-again.ts). Without an index each ask read charge_payment_intents
-- whole, a table every charge attempt adds to and nothing deletes from.
create index charge_payment_intents_invoice on charge_payment_intents (invoice_id, held_at);
