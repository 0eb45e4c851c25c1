-- The gateway's fingerprint of a card on file (Stripe's `card.fingerprint`: the
-- same card number gives the same one, whatever payment method it was typed
-- into). Invoicing blocks a card charged back as fraud by it as well as by its
-- payment method (docs/contracts/invoicing.md, Chargebacks): the same stolen
-- card typed in again is a new payment method, and was charged at once. Cards
-- saved before have none (null) and are still matched by payment method.
alter table cards add column fingerprint text;

-- Published for invoicing's charger: exactly these columns (fingerprint added;
-- invoicing waits for this migration before a pass, cc-forms-schema.ts).
drop view cards_on_file;
create view cards_on_file as
  select account_id, customer_id, payment_method_id, brand, last4, exp_month, exp_year, added_at, fingerprint
  from cards;
