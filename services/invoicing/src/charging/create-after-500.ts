// An invoice's PaymentIntent is created under the key stored on its charge row. A 500
// under that key is kept by the gateway and replayed to every retry for a day ("the
// request may or may not have completed"): the invoice went uncharged that long. So the
// gateway is asked what the failed create made (its payment_intent.created event names
// the key): that PaymentIntent is the invoice's, and is confirmed as any; none, and the
// row gets a new key, stored before the next create is sent. An invoice never gets a
// second PaymentIntent for one key's work, so it is never charged twice.
import type { Logger } from '@vault/runtime';
import type { Answer } from './decide.ts';
import type { ChargeGateway } from './gateway-calls.ts';

/**
 * `created` as it stands, or after a 500 the PaymentIntent the create made. None made: `renew` stores
 * a new key and the 500 is answered (the next pass creates under the new key). Not known (a stand-in
 * gateway, or the gateway's events unreadable): the 500, the key unchanged.
 */
export async function createdAfterServerError(
  deps: { gateway: ChargeGateway; log: Logger },
  invoiceId: string,
  key: string,
  created: { id: string } | { error: Answer },
  renew: () => Promise<unknown>,
): Promise<{ id: string } | { error: Answer }> {
  // Only a 500 is kept under the key: a 502-504 (a proxy's, maybe while the create still runs) is not.
  if (!('error' in created) || created.error.kind !== 'unanswered' || !created.error.code.endsWith('(HTTP 500)')) return created;
  if (!deps.gateway.paymentIntentCreatedUnder) return created;
  let made: string | undefined;
  try {
    made = await deps.gateway.paymentIntentCreatedUnder(invoiceId, key);
  } catch (err) {
    deps.log.warn('charge.reconcile_failed', { invoice_id: invoiceId, error: err instanceof Error ? err.message : String(err) });
    return created;
  }
  if (made) {
    deps.log.info('charge.payment_intent_found', { invoice_id: invoiceId, payment_intent: made, after: 'server_error' });
    return { id: made };
  }
  await renew();
  deps.log.warn('charge.key_renewed', { invoice_id: invoiceId, step: 'create', reason: 'server_error' });
  return created;
}
