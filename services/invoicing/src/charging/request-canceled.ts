// The hour after card testing canceled the invoice's PaymentIntent (card-testing.ts): the row let it
// go and waits for the revocation's retry_at to charge the card on file on a new one. The page said
// "we charge your card on file shortly", which reads as if nothing happened, for a request we
// canceled (its link dead). Read with the row, it says so plainly, and when the new one comes.

/**
 * SQL of the retry_at of the card-testing revocation the row `c` waits for (its PaymentIntent let
 * go, scheduled for exactly that time, no attempt chosen yet), or null. Only a PaymentIntent other
 * cards were declined on: a card blocked as stolen (block-revokes.ts) is no new request to wait for.
 * Read per invoice shown (its page, the account, the invoices list), so both tables by index: the
 * revocations by invoice (migration 037), the declines by invoice (033), never either read whole.
 */
export const REQUEST_CANCELED_UNTIL_SQL = `(
  select r.retry_at from invoicing.revoked_payment_intents r
   where r.invoice_id = c.invoice_id and r.settled_at is not null and r.retry_at = c.next_attempt_at
     and c.state = 'scheduled' and c.payment_intent_id is null and c.pending_payment_method_id is null
     and exists (select 1 from invoicing.foreign_card_declines f where f.invoice_id = r.invoice_id and f.payment_intent_id = r.payment_intent_id)
   order by r.revoked_at desc limit 1)`;
