// The sandbox's HTTP surface on a fastify instance made by createHttpApp:
// Stripe's wire format (form bodies, Request-Id, Stripe-Version), its errors,
// its keys, and the resources; started with the delivery loop (webhooks/deliver.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { identify, presentedKey } from './api/auth.ts';
import type { SandboxDeps } from './deps.ts';
import { elementsRoutes } from './elements/routes.ts';
import { ApiError, invalidRequest, serverErrorBody, unrecognizedUrl } from './api/errors.ts';
import { fingerprintKeyLoader } from './api/fingerprint.ts';
import { formBodies } from './api/form-body.ts';
import { API_VERSION } from './api/api-version.ts';
import { newId } from './api/ids.ts';
import { chargeRoutes } from './resources/charges.ts';
import { customerRoutes } from './resources/customers.ts';
import { disputeRoutes } from './resources/disputes.ts';
import { eventRoutes } from './resources/events.ts';
import { challengeRoutes } from './elements/challenge-routes.ts';
import { paymentIntentRoutes } from './resources/payment-intent-routes.ts';
import { paymentMethodRoutes } from './resources/payment-method-routes.ts';
import { refundRoutes } from './resources/refunds.ts';
import { setupIntentRoutes } from './resources/setup-intent-routes.ts';
import { webhookEndpointRoutes } from './resources/webhook-endpoints.ts';
import { startDelivery, type DeliveryLoop, type DeliveryOptions } from './webhooks/deliver.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** `req_…`, also the `Request-Id` header and events' `request.id`. */
    stripeRequestId: string;
  }
}

type SandboxOptions = Omit<SandboxDeps, 'fingerprintKey' | 'onEvents'>;

// Decided on the route the router matched, never on the raw URL: the router
// decodes `/%761/…` to `/v1/…`, which a prefix test of `req.url` would miss.
const isApi = (req: FastifyRequest) => req.routeOptions.url?.startsWith('/v1/') === true;

/**
 * The whole sandbox on `http` (main.ts, and the tests in-process): the API and
 * the delivery loop its commits wake. Stop the returned loop on shutdown.
 */
export function gatewaySandbox(
  http: FastifyInstance,
  opts: SandboxOptions & { delivery?: Omit<DeliveryOptions, 'pool' | 'log'> },
): DeliveryLoop {
  const { delivery: loop, ...options } = opts;
  const delivery = startDelivery({ ...loop, pool: options.pool, log: options.log });
  const deps: SandboxDeps = { ...options, fingerprintKey: fingerprintKeyLoader(options.pool), onEvents: () => delivery.wake() };
  // A scope of its own: its error and not-found answers are Stripe's, /health stays shared.
  http.register(async (scope) => sandboxScope(scope, deps));
  return delivery;
}

function sandboxScope(http: FastifyInstance, deps: SandboxDeps): void {
  formBodies(http);
  http.decorateRequest('stripeRequestId', '');
  http.addHook('onRequest', async (req, reply) => {
    req.stripeRequestId = newId('req');
    reply.header('Request-Id', req.stripeRequestId);
    // Headers only (Stripe's unknown-URL answers carry them too); keys are the preHandler's.
    if (!isApi(req) && !req.url.startsWith('/v1/')) return;
    const version = req.headers['stripe-version'];
    reply.header('Stripe-Version', typeof version === 'string' && version !== '' ? version : API_VERSION);
    // Stripe's API answers browsers from any origin (Stripe.js calls it cross-origin).
    reply.header('Access-Control-Allow-Origin', '*');
    reply.header('Cache-Control', 'no-cache, no-store');
  });

  // Keys are checked after the body is parsed: a publishable key may come as `key=` in it.
  http.addHook('preHandler', async (req) => {
    if (!isApi(req) || req.method === 'OPTIONS') return;
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
    deps.log.error('http.error', err, { path: req.routeOptions.url ?? 'unknown', request_id: req.stripeRequestId });
    return reply.code(500).header('Stripe-Should-Retry', 'true').send(serverErrorBody(req.stripeRequestId));
  });

  http.setNotFoundHandler((req, reply) => reply.code(404).send(unrecognizedUrl(req.method, req.url.split('?')[0]!).toJSON()));
  // The Search API is not in the subset: Stripe's unknown-URL answer, not "No such payment_intent: 'search'".
  for (const resource of ['payment_intents', 'customers', 'charges']) {
    http.get(`/v1/${resource}/search`, async (req) => {
      throw unrecognizedUrl(req.method, `/v1/${resource}/search`);
    });
  }

  customerRoutes(http, deps);
  paymentMethodRoutes(http, deps);
  setupIntentRoutes(http, deps);
  paymentIntentRoutes(http, deps);
  chargeRoutes(http, deps);
  refundRoutes(http, deps);
  disputeRoutes(http, deps);
  webhookEndpointRoutes(http, deps);
  eventRoutes(http, deps);
  elementsRoutes(http, deps);
  challengeRoutes(http, deps);
}
