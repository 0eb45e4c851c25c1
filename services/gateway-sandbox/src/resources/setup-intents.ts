// SetupIntents, the model: save a card for later off-session charges. Confirm
// succeeds (the card attached to the intent's customer, set up for off-session
// use), fails with a 402 card error leaving the intent in requires_payment_method
// with `last_setup_error`, or, for a card that needs 3-D Secure, waits in
// requires_action for the cardholder's challenge. The routes are in setup-intent-routes.ts.
import type { SandboxDeps } from '../deps.ts';
import { cardError, invalidRequest, unexpectedState } from '../api/errors.ts';
import { rowsById } from '../store/rows.ts';
import { authenticationDecision, authenticationFailure } from '../domain/authentication.ts';
import { setupFailure } from '../domain/test-cards.ts';
import type { Queryable, Tx } from '../store/transaction.ts';
import { abandonChallenges, startChallenge, type NextAction } from './authentications.ts';
import { typesFields } from './payment-method-types.ts';
import {
  attachToCustomer,
  confirmingCard,
  paymentMethods,
  renderPaymentMethod,
  type CardDeps,
  type PaymentMethodRow,
} from './payment-methods.ts';

export type SetupIntentStatus = 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'succeeded' | 'canceled';

export interface SetupIntentRow {
  id: string;
  created: string;
  customer: string | null;
  payment_method: string | null;
  status: SetupIntentStatus;
  usage: string;
  client_secret: string;
  payment_method_types: string[];
  description: string | null;
  last_setup_error: Record<string, unknown> | null;
  cancellation_reason: string | null;
  metadata: Record<string, string>;
  next_action: NextAction | null;
}

export function renderSetupIntent(r: SetupIntentRow) {
  return {
    id: r.id,
    object: 'setup_intent' as const,
    application: null,
    automatic_payment_methods: null,
    cancellation_reason: r.cancellation_reason,
    client_secret: r.client_secret,
    created: Number(r.created),
    customer: r.customer,
    description: r.description,
    flow_directions: null,
    last_setup_error: r.last_setup_error,
    latest_attempt: null,
    livemode: false,
    mandate: null,
    metadata: r.metadata,
    next_action: r.next_action,
    on_behalf_of: null,
    payment_method: r.payment_method,
    payment_method_configuration_details: null,
    payment_method_options: { card: { mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
    payment_method_types: r.payment_method_types,
    // A sandbox SetupIntent is never automatic (automatic_payment_methods null): its list is explicit.
    ...typesFields(r.payment_method_types),
    single_use_mandate: null,
    status: r.status,
    usage: r.usage,
  };
}

export const setupIntents = rowsById<SetupIntentRow>('setup_intents', 'setupintent');

export async function getSetupIntent(q: Queryable, siId: string) {
  const row = await setupIntents.find(q, siId);
  return row && renderSetupIntent(row);
}

/** Confirms (or fails) a SetupIntent, or asks for authentication: the card's test behaviour decides. */
export async function confirmSetupIntent(
  tx: Tx,
  deps: CardDeps & Pick<SandboxDeps, 'publicOrigin'>,
  si: SetupIntentRow,
  paymentMethodId: string | undefined,
  returnUrl: string | undefined,
) {
  if (si.status === 'succeeded' || si.status === 'canceled') {
    throw unexpectedState(
      'setup_intent',
      si.status === 'succeeded'
        ? 'You cannot confirm this SetupIntent because it has already succeeded.'
        : 'You cannot confirm this SetupIntent because it has a status of canceled.',
      renderSetupIntent(si),
    );
  }
  const pm = await confirmingCard(tx, deps, si, paymentMethodId, () =>
    unexpectedState(
      'setup_intent',
      "You cannot confirm this SetupIntent because it's missing a payment method. Update the SetupIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
      renderSetupIntent(si),
    ),
  );
  const failure = setupFailure(pm.behaviour);
  if (failure) {
    await abandonChallenges(tx, { kind: 'setup_intent', id: si.id });
    const pmObject = renderPaymentMethod(pm);
    const lastError = { ...cardError(failure).body, payment_method: pmObject };
    const failed = await failSetup(tx, si, lastError);
    throw cardError(failure, { payment_method: pmObject, setup_intent: failed });
  }
  if (authenticationDecision(pm.behaviour, 'setup', pm.set_up) === 'challenge') {
    const nextAction = await startChallenge(tx, deps, { kind: 'setup_intent', id: si.id }, returnUrl);
    const waiting = renderSetupIntent(
      await setupIntents.update(tx.q, si.id, {
        status: 'requires_action',
        payment_method: pm.id,
        next_action: nextAction,
        last_setup_error: null,
      }),
    );
    await tx.emit('setup_intent.requires_action', waiting);
    return waiting;
  }
  await abandonChallenges(tx, { kind: 'setup_intent', id: si.id });
  return succeedSetup(tx, si, pm);
}

async function failSetup(tx: Tx, si: SetupIntentRow, lastError: Record<string, unknown>) {
  const failed = renderSetupIntent(
    await setupIntents.update(tx.q, si.id, {
      status: 'requires_payment_method',
      payment_method: null,
      next_action: null,
      last_setup_error: lastError,
    }),
  );
  await tx.emit('setup_intent.setup_failed', failed);
  return failed;
}

async function succeedSetup(tx: Tx, si: SetupIntentRow, pm: PaymentMethodRow) {
  if (si.customer !== null && pm.customer === null) await attachToCustomer(tx, pm, si.customer);
  // Set up: off-session charges of it need no authentication from now on (4000002500003155).
  await paymentMethods.update(tx.q, pm.id, { set_up: true });
  const succeeded = renderSetupIntent(
    await setupIntents.update(tx.q, si.id, { status: 'succeeded', payment_method: pm.id, next_action: null, last_setup_error: null }),
  );
  await tx.emit('setup_intent.succeeded', succeeded);
  return succeeded;
}

/**
 * The cardholder completed (`passed`) or failed the challenge of a SetupIntent
 * in requires_action. False when the intent no longer waits for it.
 */
export async function finishSetupAuthentication(tx: Tx, siId: string, passed: boolean): Promise<boolean> {
  const si = await setupIntents.require(tx.q, siId, 'id', true);
  if (si.status !== 'requires_action' || si.payment_method === null) return false;
  const pm = await paymentMethods.require(tx.q, si.payment_method, 'payment_method', true);
  if (passed) {
    await succeedSetup(tx, si, pm);
    return true;
  }
  const failure = authenticationFailure('setup_intent');
  await failSetup(tx, si, { ...invalidRequest(failure.message, { code: failure.code }).body, payment_method: renderPaymentMethod(pm) });
  return true;
}
