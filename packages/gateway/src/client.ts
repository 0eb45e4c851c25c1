// The official Stripe SDK, unmodified, pointed at the configured gateway.
import Stripe from 'stripe';
import type { GatewayConfig } from './config.ts';
import { rememberOrigin } from './unreachable.ts';

export type Gateway = Stripe;

/**
 * A Stripe client for GATEWAY_URL. The SDK's own retries (network errors, 409
 * and 5xx) reuse the request's idempotency key, so they never double an effect.
 */
export function gatewayClient(config: Pick<GatewayConfig, 'url' | 'secretKey'>, options: { timeoutMs?: number } = {}): Stripe {
  const { url } = config;
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  const client = new Stripe(config.secretKey, {
    host: url.hostname,
    port: url.port || (protocol === 'http' ? '80' : '443'),
    protocol,
    maxNetworkRetries: 2,
    timeout: options.timeoutMs ?? 30_000,
    telemetry: false,
  });
  // What a connection error is logged with (unreachable.ts): the SDK names only "Stripe".
  rememberOrigin(client, url);
  return client;
}
