// A payment the cardholder made on our page (after 3-D Secure), its webhook late or lost: read back
// from the gateway and recorded as the webhook would, by a pass and before an account's standing review.
import { withTransaction } from '@vault/db';
import type { ChargerDeps } from './charger.ts';
import { holdStray } from './hold-stray.ts';
import { paysInvoice } from './payment-match.ts';
import { logRefundFound, logStray, recordReportedRefund } from './save-payment.ts';
import { lockInvoiceForPayment, markInvoicePaid, waitingPastDue } from './store.ts';

/**
 * Before an account's standing is reviewed: a past-due invoice of it waiting for its cardholder may
 * have been paid on our page, its webhook lost, since the last look (an hour apart). Each such
 * PaymentIntent is read, and one paid pays its invoice (and reinstates) before the review could
 * suspend the account for it. No answer changes nothing: the review goes on as before.
 */
export async function lookBeforeSuspending(deps: ChargerDeps, accountId: string): Promise<void> {
  for (const w of await waitingPastDue(deps.pool, accountId)) await paidByCardholder(deps, w.invoiceId, w.paymentIntentId);
}

/**
 * Whether the invoice's PaymentIntent, waiting for the cardholder, was paid
 * meanwhile (they confirmed it on cc-forms' page): then it is marked paid here,
 * as its webhook would, when it is the invoice's own payment (paysInvoice).
 * Its own PaymentIntent paid for another amount or currency is `stray`: held on
 * the row as the webhook holds it (holdStray), never paid, never confirmed again.
 * `unanswered`: the gateway did not say; the next pass asks again.
 */
export async function paidByCardholder(
  deps: ChargerDeps,
  invoiceId: string,
  paymentIntentId: string | null,
): Promise<'paid' | 'waiting' | 'unanswered' | 'stray'> {
  if (!paymentIntentId) return 'waiting';
  const intent = await deps.gateway.retrievePaymentIntent(paymentIntentId);
  if ('error' in intent) {
    deps.log.warn('charge.retrieve_failed', {
      invoice_id: invoiceId,
      payment_intent: paymentIntentId,
      code: intent.error.kind === 'succeeded' ? '' : intent.error.code,
    });
    return intent.error.kind === 'unanswered' ? 'unanswered' : 'waiting';
  }
  if (intent.status !== 'succeeded') return 'waiting';
  const at = deps.now?.() ?? new Date();
  const saved = await withTransaction(
    deps.pool,
    async (client) => {
      const verdict = paysInvoice(intent, await lockInvoiceForPayment(client, invoiceId));
      if (!verdict.pays) return { paid: false, verdict, held: await holdStray(client, invoiceId, intent, verdict, at) };
      // False when its webhook paid it meanwhile: counted once, there.
      const paid = await markInvoicePaid(client, invoiceId, intent.id, { at, paymentMethodId: intent.paymentMethodId });
      // Refunded before we knew it was paid (that refund's webhook may have given up waiting): recorded now.
      return { paid, verdict, refund: await recordReportedRefund(client, invoiceId, intent.id, intent.charge, at) };
    },
    { log: deps.log, name: 'charging.paid_by_cardholder' },
  );
  if (!saved.verdict.pays) logStray(deps.log, invoiceId, intent, saved.verdict.reason);
  if (saved.paid) deps.log.info('charge.paid_by_cardholder', { invoice_id: invoiceId, payment_intent: intent.id, 'count#charges.paid': 1 });
  logRefundFound(deps.log, intent.id, saved.refund);
  if (saved.held) return 'stray';
  return saved.paid ? 'paid' : 'waiting';
}
