// Invoicing's HTTP surface, one feature after another: the JSON API and
// exports (bearer tokens), the customer's web UI (a cookie session opened by
// a sign-in link), and the gateway's webhooks (their signature).
import type { FastifyInstance } from 'fastify';
import { requireBearer } from '@vault/runtime';
import { strictTransportSecurity } from '@vault/web';
import { INVOICING_REACH, invoicingVerifier } from './access/tokens.ts';
import { accountRoutes } from './accounts/routes.ts';
import { apiRoutes } from './billing/routes.ts';
import { creditRoutes } from './billing/credit-routes.ts';
import { gatewayWebhookRoutes } from './charging/webhooks.ts';
import type { InvoicingDeps } from './deps.ts';
import { exportRoutes } from './exports/routes.ts';
import { noticeRoutes } from './notices/routes.ts';
import { webRoutes } from './web/routes.ts';

export function invoicingRoutes(http: FastifyInstance, deps: InvoicingDeps): void {
  // Every answer over https (directly, through a proxy TRUST_PROXY names, or at an https INVOICING_WEB_URL) pins https.
  http.addHook('onSend', async (req, reply) => {
    strictTransportSecurity(req, reply, deps.invoicingWebUrl);
  });
  requireBearer(http, invoicingVerifier(deps.pool, deps.adminToken), { reach: INVOICING_REACH });
  apiRoutes(http, deps);
  creditRoutes(http, deps);
  exportRoutes(http, deps);
  noticeRoutes(http, deps);
  accountRoutes(http, deps);
  webRoutes(http, deps);
  if (deps.webhooks) {
    gatewayWebhookRoutes(http, { pool: deps.pool, log: deps.log, ...deps.webhooks });
  }
}
