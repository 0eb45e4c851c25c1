-- Published for cc-forms' card form (docs/contracts/invoicing.md, "Published for
-- cc-forms"): the cards reported stolen (031, 032), by payment method and by the
-- gateway's fingerprint (null for a block made before 032). cc-forms refuses to
-- put such a card on file: the same stolen card typed in again was saved ("card
-- saved"), and refused only at the next charge, the invoice gone past due.
-- Exactly these columns: no account, no dispute (whose card it was, and why, is
-- none of the card form's business). Deleting a block's rows lifts it here too.
create view blocked_cards as
  select payment_method_id, fingerprint from blocked_payment_methods;
