// The refund of a stray payment, sent once per state of the payment. Its key is the state's
// (refundKey), so a run again before the gateway answered sends the same refund. The gateway keeps
// a 500 under a key and replays it for a day ("the request may or may not have completed"): the same
// state meant the same key, and the stray stayed held, unrefunded, that long. So after a 500 the
// refund the failed request may have made is looked for (every refund carries its key in its
// metadata, REFUND_KEY): found, it is the answer; none, a new key is stored (stray-refund-keys.ts)
// before it is sent, so a run killed after that send sends it again, never a third, and one intent
// never gets two refunds for one state. The same after an idempotency_error: the key's first request
// had other parameters (sent before refunds carried their key), and could not have made a refund
// without changing the state, hence the key.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { Answer } from './decide.ts';
import type { MadeRefund, RefundGateway } from './refund-gateway.ts';
import { renewStrayRefundKey, strayRefundKey } from './stray-refund-keys.ts';

/** Sends with a new key at most this often a run: a gateway answering 500 twice is left to the next run. */
const SENDS_A_RUN = 2;

/** An answer the gateway keeps under the key (a 500, not a proxy's 502-504), or one saying the key is not ours to reuse. */
const spentKey = (answer: Answer): boolean =>
  (answer.kind === 'unanswered' && answer.code.endsWith('(HTTP 500)')) ||
  (answer.kind === 'refused' && answer.code === 'idempotency_error');

const codeOf = (answer: Answer) => (answer.kind === 'succeeded' ? 'succeeded' : answer.code);

/** The refund of `amount` of the stray `paymentIntentId` in the state `baseKey`: made, found after a 500, or the gateway's answer. */
export async function refundStrayOnce(
  deps: { pool: pg.Pool; gateway: RefundGateway; log: Logger },
  r: {
    invoiceId: string;
    paymentIntentId: string;
    chargeId: string | undefined;
    amount: number;
    baseKey: string;
    metadata: Record<string, string>;
  },
): Promise<MadeRefund | { error: Answer }> {
  let key = await strayRefundKey(deps.pool, r.baseKey);
  for (let sent = 1; ; sent++) {
    const made = await deps.gateway.refund({
      paymentIntentId: r.paymentIntentId,
      amount: r.amount,
      idempotencyKey: key,
      metadata: r.metadata,
    });
    if (!('error' in made) || !spentKey(made.error)) return made;
    const fields = { invoice_id: r.invoiceId, payment_intent: r.paymentIntentId, code: codeOf(made.error) };
    const refunds = await deps.gateway.listRefunds(r.paymentIntentId, r.chargeId);
    if ('error' in refunds) {
      // Not known whether it made one: the key stands, and the next run looks again.
      deps.log.warn('charge.reconcile_failed', { ...fields, step: 'stray_refund', list_code: codeOf(refunds.error) });
      return made;
    }
    const found = refunds.find((refund) => refund.key === key);
    if (found) {
      deps.log.info('charge.stray_refund_found', { ...fields, refund: found.id, status: found.status });
      return found;
    }
    key = await renewStrayRefundKey(deps.pool, r.baseKey, r.paymentIntentId, key);
    deps.log.warn('charge.key_renewed', { ...fields, step: 'stray_refund' });
    if (sent >= SENDS_A_RUN) return made;
  }
}
