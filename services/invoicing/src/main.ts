// The invoicing process: `vault start invoicing` (Procfile) runs this file.
import { openPool, requestSessionSettings, withSessionSettings } from '@vault/db';
import { resolveAdminToken, runApp } from '@vault/runtime';
import { warnUntrustedProxy } from '@vault/web';
import { invoicingRoutes } from './app.ts';
import { checkBilledCurrency } from './billing/price-book-file.ts';
import { createBilling } from './billing/service.ts';
import { minimumChargeAmount } from './charging/amount.ts';
import { chargingConfig } from './charging/config.ts';
import { startChargeLoop } from './charging/schedule.ts';
import { startCatchUpLoop } from './charging/catch-up-loop.ts';
import { INVOICING_MIGRATIONS } from './cli/migrations.ts';
import { invoicingConfig, invoicingWebUrl } from './config.ts';
import { startSchedule } from './billing/schedule.ts';
import { waitForMetering } from './billing/metering-schema.ts';
import { startUsageFold } from './billing/usage-days.ts';
import { EXPORT_CONCURRENCY } from './exports/routes.ts';
import { smtpMailer, startEmailSender } from './email/sender.ts';
import { startNoticePublisher } from './notices/publisher.ts';

/** How long boot waits for a gateway sandbox starting beside it to publish its keys. */
const GATEWAY_KEYS_WAIT_MS = 60_000;
/** Connections for customers' views of a month (beside the app's pool of 10). */
const VIEW_POOL_SIZE = 8;

await runApp({
  name: 'invoicing',
  schema: 'invoicing',
  migrations: INVOICING_MIGRATIONS,
  // PRICE_BOOK's file and the gateway's keys are checked here, before any migration.
  config: invoicingConfig,
  port: 'INVOICING_PORT',
  trustProxy: (settings) => settings.TRUST_PROXY,
  build: async ({ settings, db, requestPool, http, log }) => {
    // Before anything reads metering's views: metering may still be migrating beside us (an upgrade, `vault start`, compose).
    await waitForMetering(db.pool, { log });
    const { prices } = settings;
    // The book's currency must be the one this database already bills in.
    await checkBilledCurrency(db.pool, prices, settings.PRICE_BOOK);
    const graceHours = settings.INVOICE_GRACE_HOURS;
    // A customer's view of a month is one composed statement, prepared per connection (compose-sql.ts).
    // PostgreSQL would plan it again on every run (its generic plan's estimate counts every month's
    // table of metering.settled_usage, which the run prunes): this pool's sessions keep the generic
    // plan. bench:usage: p99 60 → 24 ms with 13 settled months, 19 → 8 ms with none.
    // Only requests read through it: its statements stop at DATABASE_STATEMENT_TIMEOUT_MS too.
    const viewSettings = { plan_cache_mode: 'force_generic_plan', ...requestSessionSettings(settings.DATABASE_STATEMENT_TIMEOUT_MS) };
    const viewPool = openPool(withSessionSettings(db.url, viewSettings), {
      max: VIEW_POOL_SIZE,
      log: (event, fields) => log.info(event, fields),
    });
    // Finalize (the schedule) runs unlimited on the main pool; what requests read stops at the limit.
    const billing = createBilling({ pool: db.pool, viewPool, prices, graceHours, log });
    const requestBilling = createBilling({ pool: requestPool, viewPool, prices, graceHours, log });
    const adminToken = resolveAdminToken(settings, log);
    // The sandbox's keys (unless configured) come from its database: it may still be booting beside us.
    const charging = await chargingConfig(settings, db.pool, { waitMs: GATEWAY_KEYS_WAIT_MS });
    const webhooks = {
      verifier: charging.stripe.webhooks,
      secret: charging.webhookSecret,
      disputes: charging.disputes,
      cardTesting: charging.cardTesting,
    };
    // Finance's exports read through a pool of their own: slow downloads never hold the customers' connections.
    const exportPool = openPool(db.url, { max: EXPORT_CONCURRENCY, log: (event, fields) => log.info(event, fields) });
    const exports = { pool: exportPool, concurrency: EXPORT_CONCURRENCY, graceHours };
    // As configured (unset: cookies go by each request's scheme); https there makes cookies Secure.
    const webUrl = settings.INVOICING_WEB_URL;
    warnUntrustedProxy(log, { variable: 'INVOICING_WEB_URL', url: webUrl }, settings.TRUST_PROXY);
    const { ccFormsUrl } = settings;
    invoicingRoutes(http, {
      pool: requestPool,
      billing: requestBilling,
      prices,
      adminToken,
      log,
      webhooks,
      exports,
      ccFormsUrl,
      invoicingWebUrl: webUrl,
    });
    const schedule = startSchedule({ pool: db.pool, billing, graceHours, everyMs: settings.INVOICE_FINALIZE_EVERY_SECONDS * 1000, log });
    const usageFold = startUsageFold({ pool: db.pool, everyMs: settings.USAGE_FOLD_EVERY_SECONDS * 1000, log });
    const suspendAfterSeconds = settings.SUSPEND_PAST_DUE_AFTER;
    // The minimum finalize carries below (config declared it with the price book): the review reads the same.
    const minimum = minimumChargeAmount(prices.currency);
    const charger = startChargeLoop({ ...charging, pool: db.pool, log, suspendAfterSeconds, minimum });
    // The webhook endpoint kept enabled, and what its webhooks missed caught up; a failed run is retried as soon as a pass.
    const catchUp = startCatchUpLoop({ ...charging, pool: db.pool, log, everyMs: charging.catchUpEveryMs, retryMs: charging.everyMs });
    // Notices are always at GET /v1/notices; with Kafka they are also published to the platform's topic.
    const topic = settings.BILLING_NOTICES_TOPIC;
    const brokers = settings.KAFKA_BROKERS;
    const publisher = brokers ? startNoticePublisher({ pool: db.pool, brokers, topic, log }) : undefined;
    // Customers read these emails: the address they open invoices at, not where the gateway reaches us.
    const invoicingUrl = invoicingWebUrl(settings);
    const mailer = settings.SMTP_URL ? smtpMailer(settings.SMTP_URL) : undefined;
    const emails = startEmailSender({ pool: db.pool, log, mailer, from: settings.EMAIL_FROM, invoicingUrl });
    log.info('notices.ready', { kafka_topic: brokers ? topic : 'none', emails: mailer ? 'smtp' : 'log' });
    return {
      stop: async () => {
        await Promise.all([schedule.stop(), usageFold.stop(), charger.stop(), catchUp.stop(), publisher?.stop(), emails.stop()]);
        await Promise.all([exportPool.end(), viewPool.end()]);
      },
    };
  },
});
