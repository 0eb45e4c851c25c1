// A gateway event about a stray payment a charging pass already let go (save-payment.ts
// releaseRefundedStray: given back to the cardholder in full, the row's PaymentIntent cleared and the
// invoice charged anew). Its `payment_intent.succeeded` or `charge.refunded` may come after that (the
// gateway's retries, a delivery held up, the catch-up's copies), and each was logged `outcome=stray` at
// warn with `count#webhooks.stray`, as if a new payment had turned up that nobody had handled. Our
// records know it: the invoice's row held that PaymentIntent (charge_payment_intents) and let it go,
// not revoked (let-go-intent.ts). Of the PaymentIntents a row lets go only a released stray can have
// been paid: a canceled one never is, and one paid before its cancel is recorded paid and kept.
import type pg from 'pg';
import { letGoOf } from './let-go-intent.ts';

/** The invoice whose charge row held `paymentIntentId` at some time (charge_payment_intents, by its key). */
export async function invoiceThatHeld(db: pg.Pool | pg.PoolClient, paymentIntentId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ invoice_id: string }>(
    'select invoice_id from invoicing.charge_payment_intents where payment_intent_id = $1',
    [paymentIntentId],
  );
  return rows[0]?.invoice_id;
}

/**
 * `stray_released` (answered 200, logged at info, nothing written but the event) when the invoice's row
 * let `paymentIntentId` go otherwise than by a revoke; undefined otherwise (a stray to tell operators).
 * In the event's transaction, after the invoice's lock.
 */
export async function releasedStrayEvent(
  client: pg.PoolClient,
  invoiceId: string,
  paymentIntentId: string,
): Promise<{ outcome: 'stray_released'; invoice_id: string; payment_intent: string } | undefined> {
  if ((await letGoOf(client, invoiceId, paymentIntentId)) !== 'let_go') return undefined;
  return { outcome: 'stray_released', invoice_id: invoiceId, payment_intent: paymentIntentId };
}
