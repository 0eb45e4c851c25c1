// The gateway-sandbox process: `vault start gateway-sandbox` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { runApp } from '@vault/runtime';
import { gatewaySandbox } from './app.ts';
import { gatewaySandboxConfig } from './config.ts';

await runApp({
  name: 'gateway-sandbox',
  schema: 'gateway_sandbox',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  // A bad gateway setting is a ConfigError, reported by runApp as config.invalid.
  config: gatewaySandboxConfig,
  port: 'GATEWAY_PORT',
  build: async ({ settings, db, http, log }) => {
    const { secretKey, publishableKey } = settings.gateway;
    const latencyMs = settings.GATEWAY_SANDBOX_LATENCY_MS;
    const delivery = gatewaySandbox(http, { pool: db.pool, log, secretKey, publishableKey, latencyMs });
    log.info('gateway.sandbox_ready', { latency_ms: latencyMs });
    return { stop: () => delivery.stop() };
  },
});
