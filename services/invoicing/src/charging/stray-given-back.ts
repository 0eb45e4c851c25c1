// How much of a stray payment (save-payment.ts) the gateway has given back to the cardholder: pure.
// Refunded (the operator's remedy, stray-refund.ts), or charged back by a dispute the gateway closed
// as lost. While a chargeback is open the gateway refuses any refund (charge_disputed); once lost, only
// what it did not take may be refunded, so a lost dispute of part and a refund of the rest are the
// whole, never overlapping. An open dispute may still be won, and a won one gave the money back to us
// (its charge is refundable again): neither counts, so a refund after a won dispute counts once. Only
// the gateway's answers are read, as for the refund.
import type { ReportedDispute, ReportedIntent } from './gateway-calls.ts';

export interface GivenBack {
  /** Minor units refunded from its charge. */
  refunded: number;
  /** Minor units of its disputes closed as lost. */
  chargedBack: number;
  /** Those disputes' ids, for operators. */
  disputes: string[];
  /** All of what it received is back with the cardholder: the stray no longer holds the invoice. */
  whole: boolean;
  /** Its chargebacks still open, which the gateway lets no refund past (blocksRefund); absent when none. */
  open?: ReportedDispute[];
}

/** A chargeback not decided yet that the gateway says blocks refunds (an inquiry does not: it is refundable). */
export const blocksRefund = (d: ReportedDispute) => d.status !== 'won' && d.status !== 'lost' && d.refundable !== true;

/** Status of a dispute that the cardholder's bank won: closed, the money withdrawn for good. */
export const DISPUTE_LOST = 'lost';

export function givenBack(intent: ReportedIntent, disputes: readonly ReportedDispute[]): GivenBack {
  const refunded = intent.charge?.amount_refunded ?? 0;
  // The PaymentIntent's own (the list is asked by it; checked all the same), in its currency.
  const lost = disputes.filter(
    (d) => d.status === DISPUTE_LOST && d.paymentIntentId === intent.id && d.currency.toLowerCase() === intent.currency.toLowerCase(),
  );
  const chargedBack = lost.reduce((sum, d) => sum + d.amount, 0);
  const open = disputes.filter((d) => blocksRefund(d) && d.paymentIntentId === intent.id);
  return {
    refunded,
    chargedBack,
    disputes: lost.map((d) => d.id),
    whole: intent.status === 'succeeded' && refunded + chargedBack >= intent.amount,
    ...(open.length > 0 ? { open } : {}),
  };
}
