// After a 500 under an idempotency key, Stripe answers every retry under that key
// with the same 500 for a day ("the request may or may not have completed"). A
// caller that stored its key must not wait a day, nor make the object twice: it
// reads what the failed request made, from the event that names its key
// (`request.idempotency_key`), before it uses a new key.
import type Stripe from 'stripe';
import type { Gateway } from './client.ts';

/** How far back the events are read: Stripe keeps a key 24 h; an hour more for clocks apart. */
const KEY_KEPT_SECONDS = 25 * 3_600;

/**
 * The id of the object whose `type` event (e.g. `customer.created`) a request under
 * `idempotencyKey` emitted, or undefined when none did (the request was rolled back).
 * `matches` checks the object is the caller's (its metadata). Gateway errors are thrown.
 */
export async function createdUnderKey(
  stripe: Gateway,
  type: string,
  idempotencyKey: string,
  matches: (object: { id: string; metadata?: Stripe.Metadata | null }) => boolean = () => true,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): Promise<string | undefined> {
  for await (const event of stripe.events.list({ type, created: { gte: nowSeconds - KEY_KEPT_SECONDS }, limit: 100 })) {
    if (event.request?.idempotency_key !== idempotencyKey) continue;
    const object = event.data.object as { id: string; metadata?: Stripe.Metadata | null };
    if (matches(object)) return object.id;
  }
  return undefined;
}

/**
 * A 500: the answer Stripe keeps under the request's idempotency key and replays for a day. Not a
 * 502/503/504, which a proxy or load balancer may give while the request still runs, and which is
 * not kept: the same key is right for those.
 */
export const isStoredServerError = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { statusCode?: unknown }).statusCode === 500;
