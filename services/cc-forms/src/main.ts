// The cc-forms process: `vault start cc-forms` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { gatewayClient, gatewayConfig } from '@vault/gateway';
import { runApp } from '@vault/runtime';
import { warnUntrustedProxy } from '@vault/web';
import { ccFormsRoutes } from './app.ts';
import { ccFormsConfig } from './config.ts';
import { readCardFingerprint, sdkCardGateway } from './cards/gateway.ts';
import { startFingerprintBackfill } from './cards/fingerprint-backfill.ts';
import { GATEWAY_LOOKUPS_PER_MINUTE } from './domain/rate-limit.ts';

/** How long boot waits for a gateway sandbox starting beside it to publish its keys. */
const GATEWAY_KEYS_WAIT_MS = 60_000;

await runApp({
  name: 'cc-forms',
  schema: 'cc_forms',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  config: ccFormsConfig,
  port: 'CC_FORMS_PORT',
  trustProxy: (settings) => settings.TRUST_PROXY,
  build: async ({ settings, db, requestPool, http, log }) => {
    // The configured keys, else the sandbox's from its database (it may still be booting beside us).
    const gateway = await gatewayConfig(settings.gateway, db.pool, { waitMs: GATEWAY_KEYS_WAIT_MS });
    const stripe = gatewayClient(gateway);
    warnUntrustedProxy(log, { variable: 'CC_FORMS_URL', url: settings.CC_FORMS_URL }, settings.TRUST_PROXY);
    // Requests query through sessions limited by DATABASE_STATEMENT_TIMEOUT_MS; the backfill, unlimited.
    ccFormsRoutes(http, {
      pool: requestPool,
      gateway: sdkCardGateway(stripe),
      log,
      attemptsPerHour: settings.CARD_ATTEMPTS_PER_HOUR,
      lookupsPerMinute: GATEWAY_LOOKUPS_PER_MINUTE,
      publishableKey: gateway.publishableKey,
      gatewayJs: gateway.jsUrl.toString(),
      gatewayOrigins: gateway.origins,
      invoicingWebUrl: settings.invoicingWebUrl,
      ccFormsUrl: settings.CC_FORMS_URL,
    });
    // Cards saved before migration 007 get their fingerprint from the gateway, a few a tick.
    const backfill = startFingerprintBackfill({ pool: db.pool, log, read: (pm) => readCardFingerprint(stripe, pm) });
    return { stop: () => backfill.stop() };
  },
});
