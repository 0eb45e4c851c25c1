// The gateway-sandbox process: `vault start gateway-sandbox` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { gatewayConfig } from '@vault/gateway';
import { runApp } from '@vault/runtime';
import { gatewaySandbox } from './app.ts';

await runApp({
  name: 'gateway-sandbox',
  schema: 'gateway_sandbox',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  port: (settings) => settings.GATEWAY_PORT,
  build: async ({ settings, db, http, log }) => {
    // The same keys the other apps use to call the gateway (sandbox defaults when GATEWAY_URL is unset);
    // a bad gateway setting is a ConfigError, reported by runApp as config.invalid.
    const { secretKey, publishableKey } = gatewayConfig(settings);
    const delivery = gatewaySandbox(http, { pool: db.pool, log, secretKey, publishableKey, latencyMs: settings.GATEWAY_SANDBOX_LATENCY_MS });
    log.info('gateway.sandbox_ready', { latency_ms: settings.GATEWAY_SANDBOX_LATENCY_MS });
    return { stop: () => delivery.stop() };
  },
});
