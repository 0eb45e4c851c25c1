// The operator's refund of a stray payment at the gateway (stray-refund.ts, vault refund-stray):
// apart from ChargeGateway, which a charging pass uses, so a pass can never refund.
import type { Gateway } from '@vault/gateway';
import type { Answer } from './decide.ts';
import { answerOfError } from './gateway-calls.ts';

/**
 * A refund the gateway made or reports: its id, minor units and Stripe's status (`succeeded`, `pending`,
 * or `requires_action`, `failed`, `canceled`: not made; a failed one's money is back on the charge).
 */
export interface MadeRefund {
  id: string;
  amount: number;
  status: string;
  /** Why it failed (Stripe's `failure_reason`), when it did. */
  failureReason?: string | undefined;
  /** The idempotency key it was made under, as its metadata names it (REFUND_KEY), when it does. */
  key?: string | undefined;
}

/**
 * The metadata field naming the idempotency key a refund was made under: after a 500 under the key
 * (kept by the gateway and replayed for a day), the refund it may have made is found by it.
 */
export const REFUND_KEY = 'vault_refund_key';

/** A PaymentIntent of a customer, as its list reports it: the invoice it was made for (`metadata.invoice_id`). */
export interface ListedIntent {
  id: string;
  status: string;
  invoiceId: string | null;
}

/** The operator's refund of a stray payment (stray-refund.ts): apart from ChargeGateway, which a pass uses. */
export interface RefundGateway {
  /**
   * Refunds `amount` (minor units) of the PaymentIntent's charge, `idempotencyKey` in its metadata too
   * (REFUND_KEY); replaying the key gives the first answer.
   */
  refund(r: {
    paymentIntentId: string;
    amount: number;
    idempotencyKey: string;
    metadata: Record<string, string>;
  }): Promise<MadeRefund | { error: Answer }>;
  /** Every refund of the PaymentIntent's charge (failed ones too), or no answer. */
  listRefunds(paymentIntentId: string, chargeId?: string): Promise<MadeRefund[] | { error: Answer }>;
  /** Every PaymentIntent of the gateway customer, or no answer: finds a stray a charging pass let go. */
  listPaymentIntents(customerId: string): Promise<ListedIntent[] | { error: Answer }>;
}

const madeRefund = (r: {
  id: string;
  amount: number;
  status: string | null;
  failure_reason?: string | undefined;
  metadata?: Record<string, string> | null;
}): MadeRefund => ({
  id: r.id,
  amount: r.amount,
  // Stripe documents status as set on every refund; none said is taken as not succeeded.
  status: r.status ?? 'unknown',
  ...(r.failure_reason ? { failureReason: r.failure_reason } : {}),
  ...(r.metadata?.[REFUND_KEY] ? { key: r.metadata[REFUND_KEY] } : {}),
});

export function refundGateway(stripe: Gateway): RefundGateway {
  return {
    async refund(r) {
      try {
        const refund = await stripe.refunds.create(
          { payment_intent: r.paymentIntentId, amount: r.amount, metadata: { ...r.metadata, [REFUND_KEY]: r.idempotencyKey } },
          { idempotencyKey: r.idempotencyKey },
        );
        return madeRefund(refund);
      } catch (err) {
        return { error: answerOfError(err) };
      }
    },

    async listRefunds(paymentIntentId, chargeId) {
      try {
        const list = stripe.refunds.list(chargeId ? { charge: chargeId, limit: 100 } : { payment_intent: paymentIntentId, limit: 100 });
        const all: MadeRefund[] = [];
        for await (const refund of list) all.push(madeRefund(refund));
        return all;
      } catch (err) {
        return { error: answerOfError(err) };
      }
    },

    async listPaymentIntents(customerId) {
      try {
        const all: ListedIntent[] = [];
        for await (const pi of stripe.paymentIntents.list({ customer: customerId, limit: 100 })) {
          all.push({ id: pi.id, status: pi.status, invoiceId: pi.metadata?.invoice_id ?? null });
        }
        return all;
      } catch (err) {
        return { error: answerOfError(err) };
      }
    },
  };
}
