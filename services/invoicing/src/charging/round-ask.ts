// When the cardholder was first asked in the current round (the same card's attempts): the 3-D
// Secure window (decide.ts, authenticationWindow) counts from it. Counted from the latest attempt,
// it restarted at every ask made again in the round: card testing revoking the PaymentIntent
// (card-testing.ts) has the charger ask again on a new one an hour later, so a customer holding the
// page's client secret could burn it with junk cards about once an hour and the invoice never went
// past due. Stored on the row (migration 035) with the round it belongs to: a new card's round
// (another round_start) starts its own window, and a restart reads the same. Only card testing's
// revoke carries the window over to the next request: any other PaymentIntent let go in the round
// forgets the first ask (forgetRoundAsk).
import type pg from 'pg';

/**
 * At an ask (invoice.action_required), in the telling transaction after the row is written: the
 * latest ask (action_required_at), and the round's first one unless this round was asked before.
 */
export async function recordAsk(client: pg.PoolClient, invoiceId: string, at: Date): Promise<void> {
  await client.query(
    `update invoicing.charges
        set action_required_at = $2,
            round_asked_at = case when asked_round = round_start then round_asked_at else $2 end,
            asked_round = round_start
      where invoice_id = $1`,
    [invoiceId, at],
  );
}

/** SQL of the row `c`'s first ask in its current round, null when that round never asked. */
export const ROUND_ASKED_AT_SQL = 'case when c.asked_round = c.round_start then c.round_asked_at end';

/**
 * An ask made again in the round after its window ended (`first`: the round's first ask as the row
 * says under the invoice's lock, save-answer.ts): the invoice is past due with this very answer, not at
 * the next pass. A PaymentIntent burnt again within the minute before that pass (card testing revokes
 * it, the row is scheduled, so no longer waiting) would otherwise keep it from ever going past due. A
 * new round's first ask (`newRound`) has a window of its own.
 */
export function askedPastWindow(first: Date | null, decision: { newRound: boolean }, at: Date, window: number): boolean {
  return !decision.newRound && first != null && first.getTime() + window * 1000 <= at.getTime();
}

/**
 * SQL: the PaymentIntent `pi` of invoice `invoice` was revoked for card testing (other cards declined
 * on its page past the limit: card-testing.ts), not for a card blocked as stolen (block-revokes.ts).
 * Both lookups go through an index (the revoked one's key, foreign declines by invoice).
 */
export const revokedForCardTestingSql = (pi: string, invoice: string) => `exists (
  select 1 from invoicing.revoked_payment_intents r
   where r.payment_intent_id = ${pi} and r.invoice_id = ${invoice}
     and exists (select 1 from invoicing.foreign_card_declines f where f.invoice_id = r.invoice_id and f.payment_intent_id = r.payment_intent_id))`;

/**
 * The row lets go of its PaymentIntent `replaced` (a stray payment given back: save-payment.ts; one
 * canceled under an attempt: save-answer.ts), in the transaction that writes it, after the invoice's
 * lock. The round's first ask is forgotten, so the next ask in the round has a window of its own,
 * unless card testing revoked it: only then was the request killed by whoever holds the page (the
 * abuse the round's window closes). A request we replaced ourselves, or one canceled at the gateway
 * by someone with the keys, leaves the cardholder a new request to authenticate, and they need time
 * for it: counted from the old first ask, it made the invoice past due the moment the bank asked.
 * True when the first ask was forgotten.
 */
export async function forgetRoundAsk(client: pg.PoolClient, invoiceId: string, replaced: string): Promise<boolean> {
  const forgot = await client.query(
    `update invoicing.charges set asked_round = null, round_asked_at = null
      where invoice_id = $1 and asked_round is not null and not ${revokedForCardTestingSql('$2', '$1')}`,
    [invoiceId, replaced],
  );
  return (forgot.rowCount ?? 0) > 0;
}
