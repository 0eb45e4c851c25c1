// The invoicing process: `vault start invoicing` (Procfile) runs this file.
import { resolveAdminToken, runApp } from '@vault/runtime';
import { invoicingRoutes } from './app.ts';
import { createBilling } from './billing/service.ts';
import { chargingConfig } from './charging/config.ts';
import { startChargeLoop } from './charging/schedule.ts';
import { INVOICING_MIGRATIONS } from './cli/migrations.ts';
import { invoicingConfig } from './config.ts';
import { startSchedule } from './billing/schedule.ts';

await runApp({
  name: 'invoicing',
  schema: 'invoicing',
  migrations: INVOICING_MIGRATIONS,
  // PRICE_BOOK's file and the gateway's keys are checked here, before any migration.
  config: invoicingConfig,
  port: 'INVOICING_PORT',
  build: async ({ settings, db, http, log }) => {
    const { prices } = settings;
    const graceHours = settings.INVOICE_GRACE_HOURS;
    const billing = createBilling({ pool: db.pool, prices, graceHours, log });
    const adminToken = resolveAdminToken(settings.ADMIN_TOKEN, log);
    const charging = chargingConfig(settings);
    const webhooks = { verifier: charging.stripe.webhooks, secret: charging.webhookSecret };
    invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken, log, webhooks });
    const schedule = startSchedule({ pool: db.pool, billing, graceHours, everyMs: settings.INVOICE_FINALIZE_EVERY_SECONDS * 1000, log });
    const charger = startChargeLoop({ ...charging, pool: db.pool, log });
    return { stop: async () => void (await Promise.all([schedule.stop(), charger.stop()])) };
  },
});
