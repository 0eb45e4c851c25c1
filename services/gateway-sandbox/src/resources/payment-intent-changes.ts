// What a PaymentIntent's params may ask beyond their shape: create's checks
// that need nothing stored (run before `mutate`, so a refusal is not kept under
// the Idempotency-Key: Stripe saves no result for a request failing validation),
// the amount, currency, card, customer and setup_future_usage an unconfirmed intent may
// still change to, and
// capture, which is always refused: capture_method is automatic only.
import { minimumChargeOf } from '@vault/gateway/charge-minimums';
import type { z } from 'zod';
import { invalidRequest, unexpectedState } from '../api/errors.ts';
import { currencyAmountProblem } from '../domain/currencies.ts';
import type { Tx } from '../store/transaction.ts';
import { type CreatePaymentIntent, RETURN_URL_REQUIRED } from './payment-intent-params.ts';
import { renderPaymentIntent, type PaymentIntentRow } from './payment-intents.ts';
import { liveCustomer } from './customers.ts';
import { intentReferences, paymentMethods, refuseOtherCustomer, type CardDeps } from './payment-methods.ts';

type Automatic = PaymentIntentRow['automatic_payment_methods'];

/**
 * Stripe's published minimums, shared with invoicing. Elsewhere Stripe's is its settlement
 * currency's minimum after conversion, which the sandbox does not model.
 */
function refuseBelowMinimum(amount: number, currency: string): void {
  const minimum = minimumChargeOf(currency) ?? 1;
  if (amount >= minimum) return;
  const shown = currency === 'usd' ? `$${(minimum / 100).toFixed(2)} usd` : `${minimum} ${currency} (minor units)`;
  throw invalidRequest(`Amount must be at least ${shown}`, { param: 'amount', code: 'amount_too_small' });
}

/**
 * Stripe refuses confirming an intent that allows redirect-based methods
 * without a return_url, whatever the method used (a saved card, off-session,
 * included); Stripe.js (use_stripe_sdk) handles the next action in the page.
 */
export function requireReturnUrl(
  pi: { automatic_payment_methods: Automatic },
  p: { return_url?: string | undefined; use_stripe_sdk?: boolean | undefined },
): void {
  const automatic = pi.automatic_payment_methods;
  if (p.return_url !== undefined || p.use_stripe_sdk || !automatic?.enabled || automatic.allow_redirects === 'never') return;
  throw invalidRequest(RETURN_URL_REQUIRED, { param: 'return_url' });
}

/** Create's checks of the params alone; returns the intent's automatic payment methods (null with explicit types). */
export function checkCreateParams(p: z.infer<typeof CreatePaymentIntent>): Automatic {
  refuseBelowMinimum(p.amount, p.currency);
  if (p.off_session !== undefined && !p.confirm) {
    throw invalidRequest('You may only specify `off_session` when confirming the PaymentIntent (confirm=true).', { param: 'off_session' });
  }
  const types = p.allowed_payment_method_types;
  if (types !== undefined && p.automatic_payment_methods !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: allowed_payment_method_types, automatic_payment_methods.', {
      param: 'automatic_payment_methods',
    });
  }
  // Stripe's default since API 2023-08-16: the Dashboard's methods, redirects allowed.
  const automatic =
    types === undefined
      ? { enabled: p.automatic_payment_methods?.enabled ?? true, allow_redirects: p.automatic_payment_methods?.allow_redirects ?? 'always' }
      : null;
  // Stripe refuses such a create-and-confirm whole: nothing is created.
  if (p.confirm) requireReturnUrl({ automatic_payment_methods: automatic }, p);
  return automatic;
}

/** Where Stripe still takes a new amount, currency or card: before a confirmation is under way. */
const CHANGEABLE: ReadonlySet<string> = new Set(['requires_payment_method', 'requires_confirmation']);

/**
 * An update's amount, currency and payment_method as columns to set (none given: nothing):
 * the same amount checks as create, on the pair the intent would then have; a card
 * makes the intent `requires_confirmation`, as on Stripe. Any other status is
 * payment_intent_unexpected_state. The caller holds the intent's row lock.
 */
export async function paymentChanges(
  tx: Tx,
  deps: CardDeps,
  pi: PaymentIntentRow,
  p: { amount?: number | undefined; currency?: string | undefined; payment_method?: string | undefined },
  /** The customer the intent will have (this update may change it): a new card must not be another's. */
  customer: string | null = pi.customer,
): Promise<Partial<PaymentIntentRow>> {
  const field = (['amount', 'currency', 'payment_method'] as const).find((f) => p[f] !== undefined);
  if (field === undefined) return {};
  if (!CHANGEABLE.has(pi.status)) {
    throw unexpectedState(
      'payment_intent',
      `This PaymentIntent's ${field} could not be updated because it has a status of ${pi.status}. You may only update the ${field} of a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation.`,
      renderPaymentIntent(pi),
    );
  }
  const amount = p.amount ?? Number(pi.amount);
  const currency = p.currency ?? pi.currency;
  refuseBelowMinimum(amount, currency);
  const problem = currencyAmountProblem(amount, currency);
  if (problem) throw invalidRequest(`Invalid amount: ${problem}`, { param: 'amount', code: 'parameter_invalid' });
  const changes: Partial<PaymentIntentRow> = { amount: String(amount), currency };
  if (p.payment_method !== undefined) {
    const pm = await intentReferences(tx, deps, customer ?? undefined, p.payment_method);
    changes.payment_method = pm!.id;
    changes.status = 'requires_confirmation';
  }
  return changes;
}

/**
 * An update's customer and setup_future_usage as columns to set, in the statuses an amount
 * may change in (Stripe's reference names none for these two; a confirmation under way
 * has decided where the card goes). The customer must exist, not deleted; the intent's
 * card (`card`: the one it will hold after this update) must not be another customer's.
 * The confirmation then saves the card to the customer (payment-intents.ts settlePayment).
 */
export async function savingChanges(
  tx: Tx,
  pi: PaymentIntentRow,
  p: { customer?: string | undefined; setup_future_usage?: 'on_session' | 'off_session' | null | undefined },
  card: string | null,
): Promise<Partial<PaymentIntentRow>> {
  const field = (['customer', 'setup_future_usage'] as const).find((f) => p[f] !== undefined);
  if (field === undefined) return {};
  if (!CHANGEABLE.has(pi.status)) {
    throw unexpectedState(
      'payment_intent',
      `This PaymentIntent's ${field} could not be updated because it has a status of ${pi.status}. You may only update the ${field} of a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation.`,
      renderPaymentIntent(pi),
    );
  }
  const changes: Partial<PaymentIntentRow> = {};
  if (p.setup_future_usage !== undefined) changes.setup_future_usage = p.setup_future_usage;
  if (p.customer !== undefined) {
    await liveCustomer(tx.q, p.customer, 'customer');
    if (card !== null) refuseOtherCustomer(await paymentMethods.require(tx.q, card, 'payment_method'), p.customer, 'customer');
    changes.customer = p.customer;
  }
  return changes;
}

/** Capture's answer for every intent: nothing is ever `requires_capture` here. */
export function captureRefused(pi: PaymentIntentRow) {
  return unexpectedState(
    'payment_intent',
    `This PaymentIntent could not be captured because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
    renderPaymentIntent(pi),
  );
}
