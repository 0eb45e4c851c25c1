// The sandbox's HTTP surface on a fastify instance made by createHttpApp:
// Stripe's wire format (form bodies, Request-Id, Stripe-Version), its errors,
// its keys, and the resources. Background delivery lives in webhooks/deliver.ts.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { identify, presentedKey } from './auth.ts';
import type { SandboxDeps } from './deps.ts';
import { elementsRoutes } from './elements/routes.ts';
import { ApiError, invalidRequest } from './errors.ts';
import { fingerprintKeyLoader } from './fingerprint.ts';
import { formBodies } from './form-body.ts';
import { API_VERSION } from './api-version.ts';
import { newId } from './ids.ts';
import { chargeRoutes } from './resources/charges.ts';
import { customerRoutes } from './resources/customers.ts';
import { eventRoutes } from './resources/events.ts';
import { paymentIntentRoutes } from './resources/payment-intents.ts';
import { paymentMethodRoutes } from './resources/payment-methods.ts';
import { refundRoutes } from './resources/refunds.ts';
import { setupIntentRoutes } from './resources/setup-intents.ts';
import { webhookEndpointRoutes } from './resources/webhook-endpoints.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** `req_…`, also the `Request-Id` header and events' `request.id`. */
    stripeRequestId: string;
  }
}

export interface SandboxOptions {
  pool: pg.Pool;
  log: Logger;
  secretKey: string;
  publishableKey: string;
  latencyMs: number;
  /** Called after a commit that wrote events (the delivery loop's wake). */
  onEvents?: () => void;
}

const isApi = (url: string) => url.startsWith('/v1/');

/**
 * Adds the Stripe-compatible API (and the Stripe.js stand-in) to `http`, in a
 * scope of its own: its error and not-found answers are Stripe's, /health stays shared.
 */
export function gatewaySandboxRoutes(http: FastifyInstance, opts: SandboxOptions): void {
  http.register(async (scope) => sandboxScope(scope, opts));
}

function sandboxScope(http: FastifyInstance, opts: SandboxOptions): void {
  const deps: SandboxDeps = {
    pool: opts.pool,
    log: opts.log,
    secretKey: opts.secretKey,
    publishableKey: opts.publishableKey,
    latencyMs: opts.latencyMs,
    fingerprintKey: fingerprintKeyLoader(opts.pool),
    onEvents: opts.onEvents ?? (() => {}),
  };

  formBodies(http);
  http.decorateRequest('stripeRequestId', '');
  http.addHook('onRequest', async (req, reply) => {
    req.stripeRequestId = newId('req');
    reply.header('Request-Id', req.stripeRequestId);
    if (!isApi(req.url)) return;
    const version = req.headers['stripe-version'];
    reply.header('Stripe-Version', typeof version === 'string' && version !== '' ? version : API_VERSION);
    // Stripe's API answers browsers from any origin (Stripe.js calls it cross-origin).
    reply.header('Access-Control-Allow-Origin', '*');
    reply.header('Cache-Control', 'no-cache, no-store');
  });

  // Keys are checked after the body is parsed: a publishable key may come as `key=` in it.
  http.addHook('preHandler', async (req) => {
    if (!isApi(req.url) || req.method === 'OPTIONS') return;
    const caller = identify(deps, presentedKey(req), req.routeOptions.config.publishable === true);
    if (caller instanceof ApiError) throw caller;
    req.caller = caller;
  });

  http.options('/v1/*', async (_req, reply) =>
    reply
      .header('Access-Control-Allow-Methods', 'GET, POST, DELETE')
      .header('Access-Control-Allow-Headers', 'Authorization, Content-Type, Idempotency-Key, Stripe-Version')
      .header('Access-Control-Max-Age', '300')
      .code(204)
      .send(),
  );

  http.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (err instanceof ApiError) return reply.code(err.status).send(err.toJSON());
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status < 500) return reply.code(status).send(invalidRequest(err.message, {}, status).toJSON());
    opts.log.error('http.error', err, { path: req.routeOptions.url ?? 'unknown', request_id: req.stripeRequestId });
    return reply
      .code(500)
      .header('Stripe-Should-Retry', 'true')
      .send({ error: { type: 'api_error', message: `An unknown error occurred on our end (request ${req.stripeRequestId}). Please try again.` } });
  });

  http.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    return reply.code(404).send(
      invalidRequest(
        `Unrecognized request URL (${req.method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
      ).toJSON(),
    );
  });

  customerRoutes(http, deps);
  paymentMethodRoutes(http, deps);
  setupIntentRoutes(http, deps);
  paymentIntentRoutes(http, deps);
  chargeRoutes(http, deps);
  refundRoutes(http, deps);
  webhookEndpointRoutes(http, deps);
  eventRoutes(http, deps);
  elementsRoutes(http, { publishableKey: opts.publishableKey });
}
