// The invoicing process: `vault start invoicing` (Procfile) runs this file.
import { openPool } from '@vault/db';
import { resolveAdminToken, runApp } from '@vault/runtime';
import { invoicingRoutes } from './app.ts';
import { createBilling } from './billing/service.ts';
import { chargingConfig } from './charging/config.ts';
import { startChargeLoop } from './charging/schedule.ts';
import { INVOICING_MIGRATIONS } from './cli/migrations.ts';
import { invoicingConfig } from './config.ts';
import { startSchedule } from './billing/schedule.ts';
import { EXPORT_CONCURRENCY } from './exports/routes.ts';

/** How long boot waits for a gateway sandbox starting beside it to publish its keys. */
const GATEWAY_KEYS_WAIT_MS = 60_000;

await runApp({
  name: 'invoicing',
  schema: 'invoicing',
  migrations: INVOICING_MIGRATIONS,
  // PRICE_BOOK's file and the gateway's keys are checked here, before any migration.
  config: invoicingConfig,
  port: 'INVOICING_PORT',
  trustProxy: (settings) => settings.TRUST_PROXY,
  build: async ({ settings, db, http, log }) => {
    const { prices } = settings;
    const graceHours = settings.INVOICE_GRACE_HOURS;
    const billing = createBilling({ pool: db.pool, prices, graceHours, log });
    const adminToken = resolveAdminToken(settings, log);
    // The sandbox's keys (unless configured) come from its database: it may still be booting beside us.
    const charging = await chargingConfig(settings, db.pool, { waitMs: GATEWAY_KEYS_WAIT_MS });
    const webhooks = { verifier: charging.stripe.webhooks, secret: charging.webhookSecret };
    // Finance's exports read through a pool of their own: slow downloads never hold the customers' connections.
    const exportPool = openPool(db.url, { max: EXPORT_CONCURRENCY, log: (event, fields) => log.info(event, fields) });
    const exports = { pool: exportPool, concurrency: EXPORT_CONCURRENCY };
    invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken, log, webhooks, exports });
    const schedule = startSchedule({ pool: db.pool, billing, graceHours, everyMs: settings.INVOICE_FINALIZE_EVERY_SECONDS * 1000, log });
    const charger = startChargeLoop({ ...charging, pool: db.pool, log });
    return {
      stop: async () => {
        await Promise.all([schedule.stop(), charger.stop()]);
        await exportPool.end();
      },
    };
  },
});
