-- Issue 15: each invoice's PaymentIntent is created under a random idempotency
-- key, stored on its charge row before the request, never the invoice id: a
-- database restored from a backup, or a second installation sharing the Stripe
-- account, would otherwise get the first one's PaymentIntent back for a reused
-- id (Stripe replays a key's first answer for 24 hours). Its attempts are
-- confirmed with `<idempotency_key>:attempt:<n>`.
alter table charges add column idempotency_key text;

-- Rows written before: their PaymentIntent was created, and their attempts
-- confirmed, with the invoice id as the key; a replay must send the same.
update charges set idempotency_key = invoice_id;

-- Every new row gets its own random key when it is first written: charging
-- writes the row (with the attempt's card) before it asks for the PaymentIntent.
alter table charges
  alter column idempotency_key set default 'pi-' || replace(gen_random_uuid()::text, '-', ''),
  alter column idempotency_key set not null,
  add constraint charges_idempotency_key_unique unique (idempotency_key);
