import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import type { Gateway } from '@vault/gateway';
import { requireBearer, type Logger } from '@vault/runtime';
import { invoicingVerifier } from './auth/tokens.ts';
import type { Billing } from './billing-types.ts';
import { gatewayWebhookRoutes } from './charging/webhooks.ts';
import { apiRoutes } from './routes/api.ts';
import { exportRoutes } from './routes/exports.ts';
import { webRoutes } from './web/routes.ts';

export interface InvoicingDeps {
  pool: pg.Pool;
  billing: Billing;
  prices: PriceBook;
  adminToken: string;
  log: Logger;
  /** The gateway's webhooks (`POST /v1/gateway/webhooks`); the app always has them, route tests may not. */
  webhooks?: { verifier: Gateway['webhooks']; secret: string | undefined };
}

/**
 * Invoicing's HTTP surface: the JSON API and exports (bearer tokens), the
 * customer's web UI (a cookie session opened by a sign-in link), and the
 * gateway's webhooks (their signature).
 */
export function invoicingRoutes(http: FastifyInstance, deps: InvoicingDeps): void {
  requireBearer(http, invoicingVerifier(deps.pool, deps.adminToken));
  apiRoutes(http, deps);
  exportRoutes(http, deps);
  webRoutes(http, deps);
  if (deps.webhooks) {
    gatewayWebhookRoutes(http, { pool: deps.pool, log: deps.log, ...deps.webhooks });
  }
}
