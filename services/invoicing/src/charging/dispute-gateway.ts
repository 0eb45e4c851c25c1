// A chargeback's own charge, read from the gateway (not the webhook's body): which card the disputed
// payment used, by payment method and by the card's fingerprint, so a fraudulent one blocks that
// card however it is typed in again (dispute-block.ts). Apart from ChargeGateway: only the dispute
// handler reads it.
import type { Gateway } from '@vault/gateway';
import { Stripe } from '@vault/gateway';

/** A dispute as the gateway reports it now, with the card its charge used. */
export interface DisputedCharge {
  id: string;
  /** Stripe's reason (`fraudulent`: the bank says the card was used without authorisation). */
  reason: string | null;
  paymentIntentId: string | null;
  /** The charge's `payment_method`. */
  paymentMethodId: string | null;
  /** The charge's `payment_method_details.card.fingerprint`: the same card number, the same fingerprint. */
  fingerprint: string | null;
}

export interface DisputeGateway {
  /** The dispute and its charge, or why there is no answer (a code: the event waits for a later delivery). */
  disputedCharge(disputeId: string): Promise<DisputedCharge | { error: string }>;
}

const idOf = (value: string | { id: string } | null | undefined) => (value == null ? null : typeof value === 'string' ? value : value.id);

export function disputeGateway(stripe: Gateway): DisputeGateway {
  return {
    async disputedCharge(disputeId) {
      try {
        const dispute = await stripe.disputes.retrieve(disputeId, { expand: ['charge'] });
        const charge = typeof dispute.charge === 'object' ? dispute.charge : null;
        if (!charge) return { error: 'charge_not_expanded' };
        return {
          id: dispute.id,
          reason: dispute.reason ?? null,
          paymentIntentId: idOf(dispute.payment_intent),
          paymentMethodId: charge.payment_method ?? null,
          fingerprint: charge.payment_method_details?.card?.fingerprint ?? null,
        };
      } catch (err) {
        if (!(err instanceof Stripe.errors.StripeError)) throw err;
        return { error: err.statusCode ? `${err.code ?? err.type} (HTTP ${err.statusCode})` : (err.code ?? err.type) };
      }
    },
  };
}
