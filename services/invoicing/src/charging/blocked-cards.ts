// Cards reported stolen (migrations 031, 032). A chargeback for fraud says the card
// was used without its holder's authorisation: charging it again off-session
// would only be charged back again, with another fee. The card is blocked when
// the fraudulent dispute's funds are withdrawn (dispute-block.ts), by its payment
// method and its fingerprint (the same number typed in again is a new payment
// method, same fingerprint), and charging treats a card on file whose either is
// blocked as no usable card (decide.ts): the invoice goes past due with
// CARD_REPORTED_FRAUDULENT until another card is put on file.
import type pg from 'pg';

/** Stripe's dispute reason when the cardholder's bank says the card was used without authorisation. */
export const FRAUDULENT = 'fraudulent';

/** The charge row's code (and the past_due notice's reason) when the card on file is blocked. */
export const CARD_REPORTED_FRAUDULENT = 'card_reported_fraudulent';

/**
 * The page's and the past_due notice's reason instead of CARD_REPORTED_FRAUDULENT when the account has no
 * block of its own: its card matched another account's fraud block by fingerprint (the block is global:
 * a stolen card is stolen everywhere), so its customer is not told a payment of theirs was reported.
 */
export const CARD_BLOCKED_ELSEWHERE = 'card_blocked_elsewhere';

/** SQL: whether account `account` (an expression) has no block of its own, so a block on its card came from another account's dispute. */
export const blockedElsewhereSql = (account: string) =>
  `not exists (select 1 from invoicing.blocked_payment_methods b where b.account_id = ${account})`;

/** The row's message for it; the customer's page and email have their own words. */
export const CARD_REPORTED_FRAUDULENT_MESSAGE = 'The bank reported a payment on the card on file as unauthorised; it is not charged again.';

/**
 * SQL: whether the card of payment method `pm` and fingerprint `fingerprint` (expressions; a null
 * fingerprint, a card saved before cc-forms kept them, matches by payment method alone) is blocked.
 * The one test of a card on file: the pass's candidates and the re-read before an attempt is sent.
 */
export const isBlockedSql = (pm: string, fingerprint: string) =>
  `exists (select 1 from invoicing.blocked_payment_methods b where b.payment_method_id = ${pm} or b.fingerprint = ${fingerprint})`;

/**
 * Blocks the payment method that made the disputed payment, and its card's fingerprint when the gateway
 * gave one, in a transaction after the invoice's lock. Idempotent: the first fraudulent dispute of a
 * card blocks it; another, or the same event again, changes nothing (a row from before migration 032
 * gets its fingerprint once). True when this call blocked something new.
 */
export async function blockPaymentMethod(
  client: pg.PoolClient,
  block: { paymentMethodId: string; fingerprint: string | null; accountId: string; disputeId: string; reason: string; at: Date },
): Promise<boolean> {
  const { rowCount } = await client.query(
    `insert into invoicing.blocked_payment_methods (payment_method_id, fingerprint, account_id, dispute_id, reason, blocked_at)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (payment_method_id) do update set fingerprint = excluded.fingerprint
       where blocked_payment_methods.fingerprint is null and excluded.fingerprint is not null`,
    [block.paymentMethodId, block.fingerprint, block.accountId, block.disputeId, block.reason, block.at],
  );
  return (rowCount ?? 0) > 0;
}
