// How much of a disputed charge may still be refunded, as Stripe answers: pure. A chargeback still
// open (needs_response, under_review) refuses every refund (charge_disputed); a won one gave the
// money back to the merchant, so the charge is refundable again; a lost one keeps its own amount with
// the cardholder, so only the rest of the charge is (a dispute may be for less than the charge).

export interface DisputeFacts {
  id: string;
  status: string;
  /** Minor units disputed. */
  amount: number;
}

export interface Refundable {
  /** Minor units a refund may take now: 0 when none. */
  amount: number;
  /** The open chargeback refusing any refund, if one is. */
  openDispute?: DisputeFacts;
  /** Minor units the lost disputes keep with the cardholder. */
  lost: number;
}

/** A chargeback not decided yet: no refund while it is (Stripe's charge_disputed). */
export const isOpenDispute = (status: string) => status !== 'won' && status !== 'lost';

export function refundable(charge: { amount: number; amountRefunded: number }, disputes: readonly DisputeFacts[]): Refundable {
  const open = disputes.find((d) => isOpenDispute(d.status));
  const lost = disputes.filter((d) => d.status === 'lost').reduce((sum, d) => sum + d.amount, 0);
  if (open) return { amount: 0, openDispute: open, lost };
  return { amount: Math.max(0, charge.amount - charge.amountRefunded - lost), lost };
}
