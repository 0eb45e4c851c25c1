// When the cardholder was first asked in the current round (the same card's attempts): the 3-D
// Secure window (decide.ts, authenticationWindow) counts from it. Counted from the latest attempt,
// it restarted at every ask made again in the round: card testing revoking the PaymentIntent
// (card-testing.ts) has the charger ask again on a new one an hour later, so a customer holding the
// page's client secret could burn it with junk cards about once an hour and the invoice never went
// past due. Stored on the row (migration 035) with the round it belongs to: a new card's round
// (another round_start) starts its own window, and a restart reads the same.
import type pg from 'pg';
import type { ChargeRow } from './decide.ts';

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
 * An ask made again in the round after its window ended (the pass's row: its round's first ask a
 * window ago or more): the invoice is past due with this very answer, not at the next pass. A
 * PaymentIntent burnt again within the minute before that pass (card testing revokes it, the row is
 * scheduled, so no longer waiting) would otherwise keep it from ever going past due. A new round's
 * first ask (`newRound`) has a window of its own.
 */
export function askedPastWindow(row: ChargeRow, decision: { newRound: boolean }, at: Date, window: number): boolean {
  const first = row.roundAskedAt;
  return !decision.newRound && first != null && first.getTime() + window * 1000 <= at.getTime();
}
