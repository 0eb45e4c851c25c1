// A stray payment the cardholder made on our page (an asked PaymentIntent whose amount or currency was
// changed at the gateway, then confirmed after 3-D Secure) is held on the invoice's charge row as the
// charger's own confirm holds one (saveSucceeded): whoever learns of it first, its webhook, the
// catch-up or a pass reading it back. Before, only the charger's confirm held it: a cardholder's stray
// left the row asking, the invoice went past due and `vault refund-stray` found no stray held.
import type pg from 'pg';
import { STRAY_PAYMENT } from './decide.ts';
import type { PaymentVerdict, ReportedPayment } from './payment-match.ts';
import { strayRow } from './save-payment.ts';
import { readChargeRow, writeCharge } from './store.ts';

type StrayVerdict = Extract<PaymentVerdict, { pays: false }>;

/**
 * In the caller's transaction, after the invoice's lock (lockInvoiceForPayment gave the verdict). Only
 * the invoice's own PaymentIntent paid for another amount or currency is held, and only while the row
 * still holds that PaymentIntent, not paid and not held already: the row keeps it with
 * `last_error_code = stray_payment` (strayRow), nothing is written paid, and decide() only looks for
 * its refund from then on. True when this call held it (the caller tells operators, once).
 */
export async function holdStray(
  client: pg.PoolClient,
  invoiceId: string,
  payment: ReportedPayment,
  verdict: StrayVerdict,
  at: Date,
): Promise<boolean> {
  if (verdict.reason !== 'amount_mismatch' && verdict.reason !== 'currency_mismatch') return false;
  const row = await readChargeRow(client, invoiceId);
  if (!row || row.state === 'paid' || row.paymentIntentId !== payment.id || row.lastErrorCode === STRAY_PAYMENT) return false;
  const { actionRequiredAt: _, ...kept } = row;
  return (await writeCharge(client, invoiceId, strayRow(kept, payment, verdict.reason, at), { at }, false)) !== undefined;
}
