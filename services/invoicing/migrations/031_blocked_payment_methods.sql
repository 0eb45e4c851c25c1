-- Cards reported stolen (charging/blocked-cards.ts). A chargeback for fraud
-- (a dispute of reason `fraudulent`: the cardholder's bank says the card was
-- used without authorisation) left the card on file, and the next charging pass
-- charged it again: another chargeback, another fee. A payment method named
-- here is never charged off-session again: an invoice whose account's card on
-- file is it goes past due as without a card (`card_reported_fraudulent`) until
-- another card is put on file. Written once per card, by the first fraudulent
-- withdrawal of a payment it made; a won dispute does not lift it (an operator
-- may delete the row: docs/contracts/invoicing.md, Chargebacks).
create table blocked_payment_methods (
  payment_method_id text primary key,
  account_id        text not null,
  dispute_id        text not null,
  reason            text not null,
  blocked_at        timestamptz not null
);
create index blocked_payment_methods_account on blocked_payment_methods (account_id);
