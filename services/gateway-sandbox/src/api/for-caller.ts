// What a publishable key (Stripe.js in a browser) is answered: Stripe redacts
// metadata from objects it reads or confirms with that key
// (docs.stripe.com/metadata), so what the merchant put there (cc-forms puts
// the account id on a SetupIntent, invoicing the invoice on a PaymentIntent)
// never reaches the browser. The secret key reads it in full.
import type { FastifyRequest } from 'fastify';
import { callerOf } from './auth.ts';
import { ApiError } from './errors.ts';

/** The object as the caller may see it: metadata `{}` to a publishable key. */
export function forCaller<T extends object>(req: FastifyRequest, object: T): T {
  return callerOf(req).kind === 'publishable' ? { ...object, metadata: {} } : object;
}

/** An error carrying an intent (a card error, an unexpected state), with that intent as the caller may see it. */
export function errorForCaller(req: FastifyRequest, err: unknown, kind: 'payment_intent' | 'setup_intent'): unknown {
  if (!(err instanceof ApiError)) return err;
  const object = err.body[kind];
  if (typeof object !== 'object' || object === null) return err;
  return new ApiError(err.status, { ...err.body, [kind]: forCaller(req, object) });
}
