// An invoice's payment that the cardholder must authenticate (3-D Secure):
// which PaymentIntent belongs to the signed-in account, and what the page's
// script needs to confirm it with the gateway's JS. The client secret is read
// from the gateway with the secret key, only for the account's own intent. Any
// `pi_…` id may be asked about (invoicing's charger made them, not us), so each
// read takes a slot of the account's gateway lookups limit first (cards/lookups.ts).
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { CardGateway, PaymentIntentSeen } from '../cards/gateway.ts';
import { gatewayLookupRefused, type LookupRefused } from '../cards/lookups.ts';
import { cardOnFile, customerOf } from '../cards/store.ts';

export interface PaymentDeps {
  pool: pg.Pool;
  gateway: CardGateway;
  log: Logger;
  /** Unset: GATEWAY_LOOKUPS_PER_MINUTE (cards/lookups.ts). */
  lookupsPerMinute?: number;
}

/** `pi_` and Stripe's id characters: anything else is not looked up. */
export const PAYMENT_INTENT_ID = /^pi_[A-Za-z0-9]{1,64}$/;

/** Statuses in which the cardholder can still pay the intent on this page. */
const PAYABLE = new Set(['requires_payment_method', 'requires_action', 'requires_confirmation']);

/**
 * `declined`: the bank declined the card after its holder authenticated. The PaymentIntent waits for
 * a payment method again and may be confirmed again (the bank may accept a second try), so it is
 * payable here as well; the page also invites another card.
 */
export type PaymentStage = 'payable' | 'declined' | 'paid' | 'processing' | 'canceled';

/** Whether the page offers the button and /start hands over the client secret. */
export const paysHere = (stage: PaymentStage): boolean => stage === 'payable' || stage === 'declined';

export interface AccountPayment {
  intent: PaymentIntentSeen;
  stage: PaymentStage;
  /** The card the payment is made with: the card on file, else (none on file) the one the refused attempt used. */
  paymentMethodId: string | undefined;
  /** That card, as the page names it ("Visa •••• 3184"). */
  card: { brand: string; last4: string } | undefined;
  /** The refused attempt used another card than the one on file now: the customer replaced it since. */
  replaced: boolean;
}

const stageOf = (intent: PaymentIntentSeen): PaymentStage => {
  const { status } = intent;
  if (status === 'requires_payment_method' && intent.lastDecline) return 'declined';
  return status === 'succeeded' ? 'paid' : status === 'processing' ? 'processing' : PAYABLE.has(status) ? 'payable' : 'canceled';
};

export type PaymentLookup = { kind: 'found'; payment: AccountPayment } | { kind: 'not_found' } | LookupRefused;

const NOT_FOUND: PaymentLookup = { kind: 'not_found' };

/**
 * The account's PaymentIntent; not found when it is unknown, malformed, or
 * another customer's (the same answer: nobody learns what exists); rate limited
 * when the account has used up its gateway lookups for now.
 */
export async function accountPayment(deps: PaymentDeps, accountId: string, paymentIntentId: string): Promise<PaymentLookup> {
  if (!PAYMENT_INTENT_ID.test(paymentIntentId)) return NOT_FOUND;
  const customerId = await customerOf(deps.pool, accountId);
  if (!customerId) return NOT_FOUND;
  const limited = await gatewayLookupRefused(deps, accountId, { payment_intent_id: paymentIntentId });
  if (limited) return limited;
  const intent = await deps.gateway.paymentIntent(paymentIntentId);
  const accountOk = intent?.metadata.account_id === undefined || intent.metadata.account_id === accountId;
  if (!intent || intent.customerId !== customerId || !accountOk) {
    deps.log.warn('payment.refused', {
      account_id: accountId,
      payment_intent_id: paymentIntentId,
      reason: intent ? 'other_customer' : 'unknown',
    });
    return NOT_FOUND;
  }
  return { kind: 'found', payment: { intent, stage: stageOf(intent), ...(await cardToPayWith(deps, accountId, customerId, intent)) } };
}

/**
 * The card on file pays, even when the refused attempt used another: a customer who put a new card
 * on file (as the declined page invites) must not authenticate and pay with the card they replaced.
 * Invoicing takes any payment of the invoice's own PaymentIntent (payment-match.ts), whatever its
 * card, and its charger starts a round with the new card on the same PaymentIntent: one payment at
 * most. Without a card on file (none was ever saved here), the refused attempt's card, named by the gateway.
 */
async function cardToPayWith(
  deps: PaymentDeps,
  accountId: string,
  customerId: string,
  intent: PaymentIntentSeen,
): Promise<Pick<AccountPayment, 'paymentMethodId' | 'card' | 'replaced'>> {
  const onFile = await cardOnFile(deps.pool, accountId);
  if (onFile) {
    const replaced = intent.lastPaymentMethodId !== undefined && intent.lastPaymentMethodId !== onFile.paymentMethodId;
    return { paymentMethodId: onFile.paymentMethodId, card: { brand: onFile.brand, last4: onFile.last4 }, replaced };
  }
  const pm = intent.lastPaymentMethodId ? await deps.gateway.paymentMethod(intent.lastPaymentMethodId) : undefined;
  if (!pm || pm.customerId !== customerId) return { paymentMethodId: undefined, card: undefined, replaced: false };
  return { paymentMethodId: pm.id, card: { brand: pm.brand, last4: pm.last4 }, replaced: false };
}
