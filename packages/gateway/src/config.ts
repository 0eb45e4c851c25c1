// Which gateway is only configuration: the sandbox by default, Stripe's API
// (test or live mode) by setting GATEWAY_URL and the keys. Same code for both.
// The leaf of @vault/runtime: the apps' config modules import this one.
import { ConfigError, type GatewaySettings } from '@vault/runtime/variables';

/** The sandbox's own keys, used when GATEWAY_URL is unset (the local sandbox). */
export const SANDBOX_SECRET_KEY = 'sk_test_vault_sandbox';
export const SANDBOX_PUBLISHABLE_KEY = 'pk_test_vault_sandbox';

const STRIPE_API_HOST = 'api.stripe.com';
const STRIPE_JS_URL = 'https://js.stripe.com/v3/';

export interface GatewayConfig {
  /** The API's base address, e.g. http://localhost:3003 or https://api.stripe.com. */
  url: URL;
  secretKey: string;
  publishableKey: string;
  /** The Stripe.js script the card form loads. */
  jsUrl: URL;
  /** Origins the card form's CSP must allow for scripts, frames and connections. */
  origins: string[];
  /** Set when the operator configured the webhook endpoint's secret by hand. */
  webhookSecret: string | undefined;
}

/** A ConfigError, so every app's boot reports it as `config.invalid` and exits 1. */
export class GatewayConfigError extends ConfigError {}

/** The gateway settings, resolved once at boot. */
export function gatewayConfig(settings: GatewaySettings): GatewayConfig {
  const configured = settings.GATEWAY_URL !== undefined;
  const url = new URL(settings.GATEWAY_URL ?? `http://localhost:${settings.GATEWAY_PORT}`);
  const secretKey = settings.GATEWAY_SECRET_KEY ?? (configured ? undefined : SANDBOX_SECRET_KEY);
  const publishableKey = settings.GATEWAY_PUBLISHABLE_KEY ?? (configured ? undefined : SANDBOX_PUBLISHABLE_KEY);
  // A real gateway with made-up keys would fail at the first charge; say so at boot instead.
  if (!secretKey || !publishableKey) {
    throw new GatewayConfigError([
      { variable: 'GATEWAY_URL', message: 'GATEWAY_SECRET_KEY and GATEWAY_PUBLISHABLE_KEY are required when GATEWAY_URL is set' },
    ]);
  }
  const jsUrl = new URL(settings.GATEWAY_JS_URL ?? (url.hostname === STRIPE_API_HOST ? STRIPE_JS_URL : new URL('/v3/', url).toString()));
  return {
    url,
    secretKey,
    publishableKey,
    jsUrl,
    origins: [...new Set([url.origin, jsUrl.origin])],
    webhookSecret: settings.GATEWAY_WEBHOOK_SECRET,
  };
}
