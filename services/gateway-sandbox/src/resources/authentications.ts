// 3-D Secure challenges: a confirmation that needs the cardholder puts its
// intent in requires_action with a `next_action` leading to the sandbox's
// challenge page (challenge-page.ts), where the cardholder completes or fails it.
import type { SandboxDeps } from '../deps.ts';
import { newId } from '../api/ids.ts';
import type { Tx } from '../store/transaction.ts';

export type IntentKind = 'payment_intent' | 'setup_intent';

export interface AuthenticationRow {
  id: string;
  created: string;
  payment_intent: string | null;
  setup_intent: string | null;
  return_url: string | null;
  status: 'pending' | 'succeeded' | 'failed' | 'abandoned';
}

/**
 * Stripe's two shapes: `redirect_to_url` when the caller gave a return_url
 * (the page sends the customer there and back), else `use_stripe_sdk` (Stripe.js
 * shows the challenge in a frame over the page).
 */
export type NextAction =
  | { type: 'redirect_to_url'; redirect_to_url: { url: string; return_url: string } }
  | { type: 'use_stripe_sdk'; use_stripe_sdk: { type: 'three_d_secure_redirect'; stripe_js: string; source: string } };

/** Where the challenge page of an authentication is. */
export function challengeUrl(publicOrigin: string, authenticationId: string): string {
  return `${publicOrigin}/3d_secure/${authenticationId}`;
}

/** A new challenge for the intent (any pending one is abandoned); its next_action. */
export async function startChallenge(
  tx: Tx,
  deps: Pick<SandboxDeps, 'publicOrigin'>,
  intent: { kind: IntentKind; id: string },
  returnUrl: string | undefined,
): Promise<NextAction> {
  await abandonChallenges(tx, intent);
  const id = newId('src');
  await tx.q.query(`insert into gateway_sandbox.authentications (id, created, ${intent.kind}, return_url) values ($1, $2, $3, $4)`, [
    id,
    tx.now,
    intent.id,
    returnUrl ?? null,
  ]);
  const url = challengeUrl(deps.publicOrigin, id);
  return returnUrl !== undefined
    ? { type: 'redirect_to_url', redirect_to_url: { url, return_url: returnUrl } }
    : { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: url, source: id } };
}

/** A new confirmation or a cancel ends the intent's pending challenge: its page no longer completes anything. */
export async function abandonChallenges(tx: Tx, intent: { kind: IntentKind; id: string }): Promise<void> {
  await tx.q.query(`update gateway_sandbox.authentications set status = 'abandoned' where ${intent.kind} = $1 and status = 'pending'`, [
    intent.id,
  ]);
}

/** The authentication, locked, or undefined. */
export async function findAuthentication(tx: Tx, id: string): Promise<AuthenticationRow | undefined> {
  const { rows } = await tx.q.query<AuthenticationRow>('select * from gateway_sandbox.authentications where id = $1 for no key update', [
    id,
  ]);
  return rows[0];
}

export async function settleAuthentication(tx: Tx, id: string, status: 'succeeded' | 'failed' | 'abandoned'): Promise<void> {
  await tx.q.query('update gateway_sandbox.authentications set status = $2 where id = $1', [id, status]);
}
