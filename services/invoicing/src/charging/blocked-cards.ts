// Cards reported stolen (migration 031). A chargeback for fraud says the card
// was used without its holder's authorisation: charging it again off-session
// would only be charged back again, with another fee. The card is blocked when
// the fraudulent dispute's funds are withdrawn (disputes.ts), and charging
// treats a blocked card on file as no usable card (decide.ts): the invoice goes
// past due with CARD_REPORTED_FRAUDULENT until another card is put on file.
import type pg from 'pg';

/** Stripe's dispute reason when the cardholder's bank says the card was used without authorisation. */
export const FRAUDULENT = 'fraudulent';

/** The charge row's code (and the past_due notice's reason) when the card on file is blocked. */
export const CARD_REPORTED_FRAUDULENT = 'card_reported_fraudulent';

/** The row's message for it; the customer's page and email have their own words. */
export const CARD_REPORTED_FRAUDULENT_MESSAGE = 'The bank reported a payment on the card on file as unauthorised; it is not charged again.';

/** SQL: whether payment method `pm` (an expression) is blocked. */
export const isBlockedSql = (pm: string) => `exists (select 1 from invoicing.blocked_payment_methods b where b.payment_method_id = ${pm})`;

/**
 * Blocks the payment method that made the disputed payment, in the dispute's transaction (after the
 * invoice's lock). Idempotent: the first fraudulent dispute of a card blocks it; another, or the same
 * event again, changes nothing. True when this call blocked it.
 */
export async function blockPaymentMethod(
  client: pg.PoolClient,
  block: { paymentMethodId: string; accountId: string; disputeId: string; reason: string; at: Date },
): Promise<boolean> {
  const { rowCount } = await client.query(
    `insert into invoicing.blocked_payment_methods (payment_method_id, account_id, dispute_id, reason, blocked_at)
     values ($1, $2, $3, $4, $5) on conflict (payment_method_id) do nothing`,
    [block.paymentMethodId, block.accountId, block.disputeId, block.reason, block.at],
  );
  return (rowCount ?? 0) > 0;
}
