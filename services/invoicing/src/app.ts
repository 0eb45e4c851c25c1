import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import { requireBearer, type Logger } from '@vault/runtime';
import { invoicingVerifier } from './auth/tokens.ts';
import type { Billing } from './billing-types.ts';
import { apiRoutes } from './routes/api.ts';
import { exportRoutes } from './routes/exports.ts';
import { webRoutes } from './web/routes.ts';

export interface InvoicingDeps {
  pool: pg.Pool;
  billing: Billing;
  prices: PriceBook;
  adminToken: string;
  log: Logger;
}

/**
 * Invoicing's HTTP surface: the JSON API and exports (bearer tokens), and the
 * customer's web UI (a cookie session opened by a sign-in link).
 */
export function invoicingRoutes(http: FastifyInstance, deps: InvoicingDeps): void {
  requireBearer(http, invoicingVerifier(deps.pool, deps.adminToken));
  apiRoutes(http, deps);
  exportRoutes(http, deps);
  webRoutes(http, deps);
}
