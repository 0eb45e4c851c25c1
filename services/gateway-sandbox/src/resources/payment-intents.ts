// PaymentIntents, the model: one per payment; confirming charges the card.
// A PaymentIntent succeeds at most once: confirmation locks its row, refuses a
// succeeded or canceled one (payment_intent_unexpected_state), and the charges
// table allows one succeeded charge per intent. A decline is a 402 card error,
// the intent back in requires_payment_method with `last_payment_error`, and a
// failed charge kept. A card that needs 3-D Secure puts the intent in
// requires_action on-session (the challenge decides), and is refused
// off-session with authentication_required, as a decline. The routes are in
// payment-intent-routes.ts.
import type { SandboxDeps } from '../deps.ts';
import { ApiError, cardError, invalidRequest, unexpectedState } from '../api/errors.ts';
import { rowsById } from '../store/rows.ts';
import { AUTHENTICATION_REQUIRED, authenticationDecision, authenticationFailure } from '../domain/authentication.ts';
import { chargeFailure, disputeReason, type CardFailure } from '../domain/test-cards.ts';
import type { Queryable, Tx } from '../store/transaction.ts';
import { abandonChallenges, startChallenge, type NextAction } from './authentications.ts';
import { charges, recordCharge } from './charges.ts';
import { openDispute } from './disputes.ts';
import { typesFields } from './payment-method-types.ts';
import {
  attachToCustomer,
  confirmingCard,
  paymentMethods,
  renderPaymentMethod,
  spendIfUnattached,
  type CardDeps,
  type PaymentMethodRow,
} from './payment-methods.ts';

export type PaymentIntentStatus = 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'succeeded' | 'canceled';

export interface PaymentIntentRow {
  id: string;
  created: string;
  amount: string;
  amount_received: string;
  currency: string;
  customer: string | null;
  payment_method: string | null;
  status: PaymentIntentStatus;
  client_secret: string;
  description: string | null;
  payment_method_types: string[];
  /** Null when the intent was created with its payment method types. */
  automatic_payment_methods: { enabled: boolean; allow_redirects: 'always' | 'never' } | null;
  setup_future_usage: string | null;
  last_payment_error: Record<string, unknown> | null;
  latest_charge: string | null;
  canceled_at: string | null;
  cancellation_reason: string | null;
  metadata: Record<string, string>;
  next_action: NextAction | null;
  receipt_email: string | null;
  statement_descriptor_suffix: string | null;
}

export function renderPaymentIntent(r: PaymentIntentRow) {
  return {
    id: r.id,
    object: 'payment_intent' as const,
    amount: Number(r.amount),
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: Number(r.amount_received),
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: r.automatic_payment_methods,
    canceled_at: r.canceled_at === null ? null : Number(r.canceled_at),
    cancellation_reason: r.cancellation_reason,
    capture_method: 'automatic',
    client_secret: r.client_secret,
    confirmation_method: 'automatic',
    created: Number(r.created),
    currency: r.currency,
    customer: r.customer,
    description: r.description,
    last_payment_error: r.last_payment_error,
    latest_charge: r.latest_charge,
    livemode: false,
    metadata: r.metadata,
    next_action: r.next_action,
    on_behalf_of: null,
    payment_method: r.payment_method,
    payment_method_configuration_details: null,
    payment_method_options: { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
    payment_method_types: r.payment_method_types,
    ...typesFields(r.automatic_payment_methods === null ? r.payment_method_types : null),
    processing: null,
    receipt_email: r.receipt_email,
    review: null,
    setup_future_usage: r.setup_future_usage,
    shipping: null,
    statement_descriptor: null,
    statement_descriptor_suffix: r.statement_descriptor_suffix,
    status: r.status,
    transfer_data: null,
    transfer_group: null,
  };
}

export const paymentIntents = rowsById<PaymentIntentRow>('payment_intents', 'payment_intent');

export async function getPaymentIntent(q: Queryable, piId: string) {
  const row = await paymentIntents.find(q, piId);
  return row && renderPaymentIntent(row);
}

const CONFIRMABLE = 'requires_confirmation, requires_action, requires_payment_method';

export interface ConfirmOptions {
  paymentMethod: string | undefined;
  /** The customer is not there to authenticate (invoicing's charges). */
  offSession: boolean;
  /** Given: next_action is a redirect_to_url back there; else use_stripe_sdk. */
  returnUrl: string | undefined;
  /** Fail rather than ask for authentication (as off-session). */
  errorOnRequiresAction: boolean;
}

/** Charges the card once, or asks for authentication first; the caller holds the intent's row lock. */
export async function confirmPaymentIntent(
  tx: Tx,
  deps: CardDeps & Pick<SandboxDeps, 'publicOrigin'>,
  pi: PaymentIntentRow,
  o: ConfirmOptions,
) {
  if (pi.status === 'succeeded' || pi.status === 'canceled') {
    throw unexpectedState(
      'payment_intent',
      `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE}.`,
      renderPaymentIntent(pi),
    );
  }
  const pm = await confirmingCard(tx, deps, pi, o.paymentMethod, () =>
    unexpectedState(
      'payment_intent',
      "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent, specify a payment method attached to the PaymentIntent's customer.",
      renderPaymentIntent(pi),
    ),
  );
  let decision = authenticationDecision(pm.behaviour, o.offSession ? 'off_session' : 'on_session', pm.set_up);
  if (decision === 'challenge' && o.errorOnRequiresAction) decision = 'refuse';
  if (decision === 'challenge') {
    const nextAction = await startChallenge(tx, deps, { kind: 'payment_intent', id: pi.id }, o.returnUrl);
    const waiting = renderPaymentIntent(
      await paymentIntents.update(tx.q, pi.id, {
        status: 'requires_action',
        payment_method: pm.id,
        next_action: nextAction,
        last_payment_error: null,
      }),
    );
    await tx.emit('payment_intent.requires_action', waiting);
    return waiting;
  }
  await abandonChallenges(tx, { kind: 'payment_intent', id: pi.id });
  return settlePayment(tx, pi, pm, decision === 'refuse' ? AUTHENTICATION_REQUIRED : chargeFailure(pm.behaviour));
}

/** One charge attempt: succeeded (the intent with it), or failed (a 402 thrown, the intent back in requires_payment_method). */
async function settlePayment(tx: Tx, pi: PaymentIntentRow, pm: PaymentMethodRow, failure: CardFailure | undefined) {
  const charge = await recordCharge(tx, {
    amount: pi.amount,
    currency: pi.currency,
    customer: pi.customer,
    paymentIntent: pi.id,
    pm,
    description: pi.description,
    metadata: pi.metadata,
    receiptEmail: pi.receipt_email,
    statementDescriptorSuffix: pi.statement_descriptor_suffix,
    failure,
  });
  const pmObject = renderPaymentMethod(pm);
  // A card no customer holds is good for one payment attempt, paid or declined,
  // unless this payment saves it to the customer (setup_future_usage, below).
  const saves = failure === undefined && pi.setup_future_usage !== null && pi.customer !== null;
  if (!saves) await spendIfUnattached(tx, pm.id);
  if (failure) {
    const lastError = { ...cardError(failure).body, charge: charge.id, payment_method: pmObject };
    const failed = renderPaymentIntent(
      await paymentIntents.update(tx.q, pi.id, {
        status: 'requires_payment_method',
        payment_method: null,
        next_action: null,
        last_payment_error: lastError,
        latest_charge: charge.id,
      }),
    );
    await tx.emit('payment_intent.payment_failed', failed);
    throw cardError(failure, { charge: charge.id, payment_intent: failed, payment_method: pmObject });
  }
  if (pi.setup_future_usage !== null && pi.customer !== null) {
    // Saved with the customer present: later off-session charges need no authentication.
    if (pm.customer === null) await attachToCustomer(tx, pm, pi.customer);
    await paymentMethods.update(tx.q, pm.id, { set_up: true });
  }
  const succeeded = renderPaymentIntent(
    await paymentIntents.update(tx.q, pi.id, {
      status: 'succeeded',
      amount_received: pi.amount,
      payment_method: pm.id,
      next_action: null,
      last_payment_error: null,
      latest_charge: charge.id,
    }),
  );
  await tx.emit('payment_intent.succeeded', succeeded);
  // A card whose charges are disputed (4000000000000259): the bank's chargeback follows the payment.
  const disputed = disputeReason(pm.behaviour);
  if (disputed) await openDispute(tx, (await charges.find(tx.q, charge.id))!, disputed);
  return succeeded;
}

/**
 * The cardholder completed (`passed`) or failed the challenge of an intent in
 * requires_action: charged as a confirmation is, or back to requires_payment_method
 * with payment_intent_authentication_failure. False when the intent no longer waits.
 */
export async function finishPaymentAuthentication(tx: Tx, piId: string, passed: boolean): Promise<boolean> {
  const pi = await paymentIntents.require(tx.q, piId, 'id', true);
  if (pi.status !== 'requires_action' || pi.payment_method === null) return false;
  const pm = await paymentMethods.require(tx.q, pi.payment_method, 'payment_method', true);
  if (passed) {
    try {
      await settlePayment(tx, pi, pm, chargeFailure(pm.behaviour));
    } catch (err) {
      // A decline after authenticating is recorded on the intent; nobody waits for the 402.
      if (!(err instanceof ApiError)) throw err;
    }
    return true;
  }
  const failure = authenticationFailure('payment_intent');
  const lastError = { ...invalidRequest(failure.message, { code: failure.code }).body, payment_method: renderPaymentMethod(pm) };
  const failed = renderPaymentIntent(
    await paymentIntents.update(tx.q, pi.id, {
      status: 'requires_payment_method',
      payment_method: null,
      next_action: null,
      last_payment_error: lastError,
    }),
  );
  await tx.emit('payment_intent.payment_failed', failed);
  return true;
}
