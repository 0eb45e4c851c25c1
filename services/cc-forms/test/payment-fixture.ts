// An account signed in to the card form with a card on file, and its invoice's
// PaymentIntent as invoicing's charger leaves it: what the payment page tests start from.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { PaymentIntentSeen } from '../src/cards/gateway.ts';
import { accountToken, signIn, type Browser, type World } from './world.ts';

/** Signs the account in and puts a card on file (its gateway customer made on the way). */
export async function customerWithCard(
  w: World,
  accountId: string,
): Promise<{ b: Browser; token: string; customerId: string; pm: string }> {
  const token = await accountToken(w, accountId);
  const b = await signIn(w, token);
  const secret = (await b.postJson('/card/setup-intents', {})).json().client_secret as string;
  const si = secret.split('_secret_')[0]!;
  const pm = w.gateway.confirm(si, { brand: 'visa', last4: '3184' });
  assert.equal((await b.postJson('/card', { setup_intent: si })).statusCode, 200);
  const customerId = [...w.gateway.customers.values()].find((c) => c.accountId === accountId)!.id;
  return { b, token, customerId, pm };
}

/** An invoice's PaymentIntent as invoicing's charger leaves it after an off-session authentication_required. */
export function intentFor(
  w: World,
  accountId: string,
  customerId: string,
  pm: string,
  status = 'requires_payment_method',
): PaymentIntentSeen {
  const id = `pi_${randomBytes(12).toString('hex')}`;
  const intent: PaymentIntentSeen = {
    id,
    status,
    customerId,
    amount: 5258,
    currency: 'usd',
    clientSecret: `${id}_secret_${randomBytes(8).toString('hex')}`,
    metadata: { invoice_id: 'in_0123', account_id: accountId, number: '2026-10-000007' },
    lastPaymentMethodId: pm,
  };
  w.gateway.paymentIntents.set(id, intent);
  return intent;
}
