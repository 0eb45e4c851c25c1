// Who is calling: the secret key (everything) or the publishable key (only
// what Stripe.js does: create a PaymentMethod, read and confirm a SetupIntent
// it holds the client secret of). Keys come as `Authorization: Bearer <key>`,
// Basic with the key as user, or (publishable, as Stripe.js sends it) `key=`
// in the body or query.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { authenticationError, publishableKeyRefused, type ApiError } from './errors.ts';

export type KeyKind = 'secret' | 'publishable';

export interface Caller {
  kind: KeyKind;
  /** sha256 of the key: scopes idempotency keys without storing the key. */
  keyHash: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifyContextConfig {
    /** True on the few routes a publishable key may call. */
    publishable?: boolean;
  }
}

/** The key a request presents, and removes `key` from its params. */
export function presentedKey(req: FastifyRequest): string | undefined {
  const fromParams = takeKey(req.body) ?? takeKey(req.query);
  const header = req.headers.authorization;
  if (header) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) return bearer[1];
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
    if (basic) return Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0];
    return '';
  }
  return fromParams;
}

function takeKey(params: unknown): string | undefined {
  if (!params || typeof params !== 'object' || !('key' in params)) return undefined;
  const value = (params as Record<string, unknown>).key;
  delete (params as Record<string, unknown>).key;
  return typeof value === 'string' ? value : undefined;
}

/** Constant-time equality of two secrets (keys, client secrets). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The caller the key check set. A route reached without one is refused, never
 * taken for the secret key: the check is the hook's, and a handler fails closed.
 */
export function callerOf(req: FastifyRequest): Caller {
  if (req.caller === undefined) throw authenticationError(undefined);
  return req.caller;
}

/** The caller for a key, or the 401/403 Stripe answers. */
export function identify(
  keys: { secretKey: string; publishableKey: string },
  key: string | undefined,
  routeAllowsPublishable: boolean,
): Caller | ApiError {
  if (key === undefined || key === '') return authenticationError(key);
  const keyHash = createHash('sha256').update(key).digest('hex');
  if (sameSecret(key, keys.secretKey)) return { kind: 'secret', keyHash };
  if (sameSecret(key, keys.publishableKey)) return routeAllowsPublishable ? { kind: 'publishable', keyHash } : publishableKeyRefused();
  return authenticationError(key);
}
