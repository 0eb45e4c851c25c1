// A gateway event about a PaymentIntent the invoice's charge row has let go of
// (card-testing.ts revoked it, or the row replaced it: canceled, or a stray
// given back). Card testers' declines of a revoked PaymentIntent keep arriving
// after it was canceled (the burst's deliveries in any order, the gateway's
// retries, the catch-up's copies), and each was logged `outcome=stray` at warn
// with `count#webhooks.stray`, as if someone had made a PaymentIntent naming
// our invoice. Our own records tell them apart: they are expected, at info.
import type pg from 'pg';
import type { PaymentVerdict } from './payment-match.ts';

/** What the records say of a PaymentIntent the invoice no longer holds: revoked (revoked_payment_intents), or let go otherwise. */
export type LetGo = 'revoked' | 'let_go';

/** The paysInvoice refusals that may be a PaymentIntent let go: the row holds another one, or none. */
export const mayBeLetGo = (verdict: PaymentVerdict) =>
  !verdict.pays && (verdict.reason === 'not_its_payment_intent' || verdict.reason === 'no_payment_intent_recorded');

/**
 * Whether `paymentIntentId` is one this invoice's charge row held (charge_payment_intents, migration 032)
 * or revoked (revoked_payment_intents, 033), for that very invoice; undefined: never the invoice's, a true stray.
 * In the event's transaction, after the invoice's lock.
 */
export async function letGoOf(client: pg.PoolClient, invoiceId: string, paymentIntentId: string): Promise<LetGo | undefined> {
  const { rows } = await client.query<{ revoked: boolean; held: boolean }>(
    `select exists (select 1 from invoicing.revoked_payment_intents where payment_intent_id = $1 and invoice_id = $2) as revoked,
            exists (select 1 from invoicing.charge_payment_intents where payment_intent_id = $1 and invoice_id = $2) as held`,
    [paymentIntentId, invoiceId],
  );
  if (rows[0]?.revoked) return 'revoked';
  return rows[0]?.held ? 'let_go' : undefined;
}
