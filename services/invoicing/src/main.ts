// The invoicing process: `vault start invoicing` (Procfile) runs this file.
import { resolveAdminToken, runApp } from '@vault/runtime';
import { invoicingRoutes } from './app.ts';
import { createBilling } from './billing.ts';
import { INVOICING_MIGRATIONS } from './cli/migrations.ts';
import { loadPriceBook } from './price-book-file.ts';
import { startSchedule } from './schedule.ts';

await runApp({
  name: 'invoicing',
  schema: 'invoicing',
  migrations: INVOICING_MIGRATIONS,
  port: (settings) => settings.INVOICING_PORT,
  build: async ({ settings, db, http, log }) => {
    const prices = loadPriceBook(settings.PRICE_BOOK);
    const graceHours = settings.INVOICE_GRACE_HOURS;
    const billing = createBilling({ pool: db.pool, prices, graceHours, log });
    const adminToken = resolveAdminToken(settings.ADMIN_TOKEN, log);
    invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken, log });
    const schedule = startSchedule({ pool: db.pool, billing, graceHours, everyMs: settings.INVOICE_FINALIZE_EVERY_SECONDS * 1000, log });
    return { stop: () => schedule.stop() };
  },
});
