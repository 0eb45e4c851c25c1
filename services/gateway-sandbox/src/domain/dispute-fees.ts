// Stripe's dispute fee, taken with the disputed amount when a dispute opens
// (charge.dispute.funds_withdrawn) and given back when the dispute is won
// (support.stripe.com "Dispute fees FAQ": "Stripe will also refund the network dispute fee").
// Only the US fee, 15.00 USD, is modelled: the other countries' fees are on Stripe's pricing
// pages, which the docs this was checked against do not carry (docs/contracts/gateway-sandbox.md).

/** Minor units by currency. */
const DISPUTE_FEES: Readonly<Record<string, number>> = { usd: 1500 };

/** The fee a dispute in `currency` costs, in its minor units; 0 where none is modelled. */
export function disputeFee(currency: string): number {
  return DISPUTE_FEES[currency] ?? 0;
}
