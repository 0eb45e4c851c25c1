// What the tests of a 3-D Secure request across card testing's revoke/retry rounds share
// (card-testing-window, card-testing-asked-late): the cards, the retry schedule whose span is the
// window, and the tester's script that burns a PaymentIntent.
import assert from 'node:assert/strict';
import { memoryLogger } from '@vault/runtime';
import { catchUpEvents, gatewayEvents } from '../src/charging/event-catch-up.ts';
import { chargeGateway } from '../src/charging/gateway-calls.ts';
import { confirmWithNewCard, type ChargingWorld } from '../../../test/charging-harness.ts';

export const ALWAYS_3DS = '4000002760003184';
export const STOLEN = ['4000000000000002', '4000000000009995'];
export const DAY = 86_400_000;
/** Window: 3 + 5 days. */
export const RETRY_SCHEDULE = [259_200, 432_000];

/** The tester's script on `pi` with its client secret, the declines found by a fresh catch-up: revoked and canceled. */
export async function burnIntent(w: ChargingWorld, pi: string): Promise<void> {
  const secret = (await w.sdk.paymentIntents.retrieve(pi)).client_secret!;
  for (const number of STOLEN) assert.equal((await confirmWithNewCard(w, pi, secret, number)).status, 402);
  const cardTesting = { limit: 1, gateway: chargeGateway(w.sdk) };
  await catchUpEvents({ pool: w.db.pool, log: memoryLogger(), events: gatewayEvents(w.sdk), cardTesting });
  assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'canceled');
}
