// The gateway-sandbox process: `vault start gateway-sandbox` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { gatewayConfig, GatewayConfigError } from '@vault/gateway';
import { runApp } from '@vault/runtime';
import { gatewaySandboxRoutes } from './app.ts';
import { startDelivery } from './webhooks/deliver.ts';

await runApp({
  name: 'gateway-sandbox',
  schema: 'gateway_sandbox',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  port: (settings) => settings.GATEWAY_PORT,
  build: async ({ settings, db, http, log }) => {
    // The same keys the other apps use to call the gateway (sandbox defaults when GATEWAY_URL is unset).
    let keys: { secretKey: string; publishableKey: string };
    try {
      keys = gatewayConfig(settings);
    } catch (err) {
      if (!(err instanceof GatewayConfigError)) throw err;
      log.error('config.invalid', err);
      process.exit(1);
    }
    const { secretKey, publishableKey } = keys;
    const delivery = startDelivery({ pool: db.pool, log });
    gatewaySandboxRoutes(http, {
      pool: db.pool,
      log,
      secretKey,
      publishableKey,
      latencyMs: settings.GATEWAY_SANDBOX_LATENCY_MS,
      onEvents: () => delivery.wake(),
    });
    log.info('gateway.sandbox_ready', { latency_ms: settings.GATEWAY_SANDBOX_LATENCY_MS });
    return { stop: () => delivery.stop() };
  },
});
