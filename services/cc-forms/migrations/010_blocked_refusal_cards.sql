-- Blocked refusals counted per card, not per setup intent (cards/blocked-refusals.ts): a cardholder
-- who types the same blocked card in again (a new setup intent) was counted twice and locked out of
-- adding a good card for an hour, told "2 cards". `card` is the account's own name for the card: the
-- sha256 of the account and the gateway's fingerprint (else the payment method), never the
-- fingerprint itself. A row from before names its setup intent only: kept as one card each, as it was
-- counted (they leave within the hour). `setup_intent_id` stays: the first setup intent refused with it.
alter table blocked_refusals add column card text collate "C";
update blocked_refusals set card = 'setup_intent:' || setup_intent_id;
alter table blocked_refusals alter column card set not null;
alter table blocked_refusals drop constraint blocked_refusals_pkey;
alter table blocked_refusals add primary key (account_id, card);
