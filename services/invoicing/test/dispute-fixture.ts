// The gateway's side of the dispute tests: a signed-to-be dispute event, and a stand-in for the gateway's
// dispute read (dispute-gateway.ts) answering for the disputes the tests made, as a fraudulent
// withdrawal's handler asks it (dispute-block.ts). Re-exported by charging-fixture.ts.
import type pg from 'pg';
import type { DisputeGateway } from '../src/charging/dispute-gateway.ts';

/** The disputes the tests made (disputeMade), as the gateway reports them: what fixtureDisputes answers from. */
const disputesMade = new Map<string, { paymentIntentId: string | null; reason: string }>();

/** Dispute `dispute` of PaymentIntent `paymentIntent` exists at the (stand-in) gateway with `reason`. */
export function disputeMade(dispute: string, paymentIntent: string | null, reason: string): void {
  disputesMade.set(dispute, { paymentIntentId: paymentIntent, reason });
}

/**
 * A stand-in for the gateway's dispute read (dispute-gateway.ts): the disputes made here, their charge's
 * card the one our charge row last tried (`fingerprints` gives it one; none: no fingerprint); unknown: 404.
 */
export function fixtureDisputes(pool: pg.Pool, fingerprints: Record<string, string> = {}): DisputeGateway {
  return {
    async disputedCharge(id) {
      const made = disputesMade.get(id);
      if (!made) return { error: 'resource_missing (HTTP 404)' };
      const { rows } = await pool.query<{ pm: string | null }>(
        `select coalesce(c.last_payment_method_id, c.pending_payment_method_id) as pm
           from invoicing.charge_payment_intents p join invoicing.charges c on c.invoice_id = p.invoice_id
          where p.payment_intent_id = $1`,
        [made.paymentIntentId],
      );
      const pm = rows[0]?.pm ?? null;
      return {
        id,
        reason: made.reason,
        paymentIntentId: made.paymentIntentId,
        paymentMethodId: pm,
        fingerprint: pm ? (fingerprints[pm] ?? null) : null,
      };
    },
  };
}

/** A signed-to-be gateway event: `type` of dispute `dispute` (its own charge id), reason `reason`, on PaymentIntent `paymentIntent`, for `cents` USD. */
export function disputeEvent(
  id: string,
  type: 'withdrawn' | 'reinstated',
  dispute: string,
  paymentIntent: string,
  cents: number,
  reason = 'fraudulent',
) {
  disputeMade(dispute, paymentIntent, reason);
  return {
    id,
    object: 'event',
    type: `charge.dispute.funds_${type}`,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    data: {
      object: {
        id: dispute,
        object: 'dispute',
        amount: cents,
        currency: 'usd',
        charge: `ch_${dispute}`,
        payment_intent: paymentIntent,
        reason,
        status: type === 'withdrawn' ? 'needs_response' : 'won',
      },
    },
  };
}
