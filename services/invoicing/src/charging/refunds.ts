// Refunds the gateway reports (`charge.refunded`, from the sandbox and Stripe):
// recorded on the invoice the charge paid, found by its PaymentIntent. The
// charge carries the cumulative amount refunded, so deliveries out of order
// or again never lower it; an invoice refunded whole is `refunded`, told as
// invoice.refunded (beyond api.md's list) in the same transaction. A partial
// refund is not told: the invoice stays `paid` (its amount_refunded is on
// GET /v1/invoices/:id and the exports), and a notice per cumulative amount
// would be a new type for a change of no status.
import type pg from 'pg';
import { z } from 'zod';
import { fromMinorUnits } from './amount.ts';
import { STRAY_PAYMENT } from './decide.ts';
import { lockInvoice } from './store.ts';
import { tellRefunded } from './tell.ts';

/** `charge.refunded`'s object: the part invoicing reads. */
export const RefundedCharge = z.object({
  id: z.string().min(1),
  object: z.literal('charge'),
  payment_intent: z.string().min(1).nullable(),
  /** Minor units, all refunds of the charge so far. */
  amount_refunded: z.number().int().nonnegative(),
  currency: z.string().min(1),
});
export type RefundedCharge = z.infer<typeof RefundedCharge>;

/** The invoice a charge's PaymentIntent paid, if charging made it. */
export async function invoiceOfPaymentIntent(db: pg.Pool | pg.PoolClient, paymentIntentId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ invoice_id: string }>('select invoice_id from invoicing.charges where payment_intent_id = $1', [
    paymentIntentId,
  ]);
  return rows[0]?.invoice_id;
}

/** The PaymentIntent the invoice's charge row holds now, and whether it is a stray one (save-payment.ts), in the caller's transaction. */
export async function heldPaymentIntent(
  client: pg.PoolClient,
  invoiceId: string,
): Promise<{ paymentIntentId: string | null; stray: boolean }> {
  const { rows } = await client.query<{ payment_intent_id: string | null; stray: boolean }>(
    `select payment_intent_id, last_error_code is not distinct from $2 as stray from invoicing.charges where invoice_id = $1`,
    [invoiceId, STRAY_PAYMENT],
  );
  return { paymentIntentId: rows[0]?.payment_intent_id ?? null, stray: rows[0]?.stray ?? false };
}

export type RefundOutcome =
  | { outcome: 'refunded' | 'partly_refunded' | 'unchanged'; invoice_id: string; amount_refunded: string }
  /** `not_paid`: a refund that waited for its payment past the gateway's retries (webhooks.ts). */
  | { outcome: 'stray'; reason: 'not_paid' | 'currency_mismatch' | 'more_than_total'; invoice_id: string }
  /** The invoice's payment is not recorded yet (its event may come after the refund's): nothing is recorded, the gateway retries. */
  | { outcome: 'before_payment'; invoice_id: string };

/**
 * Records a charge's cumulative refund on its invoice, in the caller's
 * transaction, after locking the invoice (the one lock order). Only a paid
 * (or already refunded) invoice takes a refund, never more than its total. A
 * refund of one of its PaymentIntents reaching an invoice not paid yet came
 * before its payment's event (deliveries come in any order): `before_payment`.
 * `at`: when it is recorded, the invoice.refunded notice's time.
 */
export async function recordRefund(
  client: pg.PoolClient,
  invoiceId: string,
  charge: RefundedCharge,
  at: Date = new Date(),
): Promise<RefundOutcome> {
  await lockInvoice(client, invoiceId);
  const { rows } = await client.query<{ status: string; currency: string; total: string; amount_refunded: string }>(
    'select status, currency, total::text, amount_refunded::text from invoicing.invoices where id = $1',
    [invoiceId],
  );
  const invoice = rows[0]!;
  if (invoice.status !== 'paid' && invoice.status !== 'refunded') return { outcome: 'before_payment', invoice_id: invoiceId };
  if (charge.currency.toUpperCase() !== invoice.currency.toUpperCase()) {
    return { outcome: 'stray', reason: 'currency_mismatch', invoice_id: invoiceId };
  }
  const refunded = fromMinorUnits(charge.amount_refunded, invoice.currency);
  const updated = await client.query<{ status: string; amount_refunded: string; changed: boolean }>(
    `update invoicing.invoices
        set amount_refunded = greatest(amount_refunded, $2::numeric),
            status = case when greatest(amount_refunded, $2::numeric) >= total then 'refunded' else status end
      where id = $1 and $2::numeric <= total
      returning status, amount_refunded::text, $2::numeric > $3::numeric as changed`,
    [invoiceId, refunded, invoice.amount_refunded],
  );
  const row = updated.rows[0];
  if (!row) return { outcome: 'stray', reason: 'more_than_total', invoice_id: invoiceId };
  const outcome = !row.changed ? 'unchanged' : row.status === 'refunded' ? 'refunded' : 'partly_refunded';
  // Told once, in this transaction: only the delivery that made it `refunded` is `refunded` (later ones are unchanged).
  if (outcome === 'refunded') await tellRefunded(client, invoiceId, at, { amountRefunded: row.amount_refunded, chargeId: charge.id });
  return { outcome, invoice_id: invoiceId, amount_refunded: row.amount_refunded };
}
