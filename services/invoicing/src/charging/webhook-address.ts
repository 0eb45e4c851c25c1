// Stripe delivers webhooks only to an address it can reach from the internet
// (https in live mode). Left at its default (localhost) or a compose service
// name, the endpoint is refused at every registration, and payments that
// cardholders confirm after 3-D Secure and every refund go unheard: say so at boot.
import { isIP } from 'node:net';
import { GatewayConfigError, gatewayTarget } from '@vault/gateway/config';
import type { InvoicingSettings } from '../config.ts';

const PRIVATE_V4 = [/^127\./, /^10\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./, /^169\.254\./, /^0\./];

/** True when `host` can only be reached from this network: loopback, private, link-local or a single label. */
export function isPrivateHost(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(name) === 4) return PRIVATE_V4.some((p) => p.test(name));
  if (isIP(name) === 6) return name === '::1' || /^f[cd]/.test(name) || /^fe[89ab]/.test(name) || name === '::';
  return !name.includes('.') || name.endsWith('.localhost') || name.endsWith('.local') || name.endsWith('.internal');
}

/**
 * Refuses, naming INVOICING_URL, an address Stripe cannot deliver webhooks to
 * when GATEWAY_URL is Stripe's API and invoicing registers its own endpoint
 * (no GATEWAY_WEBHOOK_SECRET); live keys also need https. The sandbox reaches anything.
 */
export function checkWebhookAddress(settings: InvoicingSettings): void {
  const target = gatewayTarget(settings);
  if (target.sandbox || target.webhookSecret !== undefined) return;
  const live = target.keys?.secretKey.startsWith('sk_live_') ?? false;
  const url = settings.INVOICING_URL === undefined ? undefined : new URL(settings.INVOICING_URL);
  const reachable = url !== undefined && !isPrivateHost(url.hostname) && (!live || url.protocol === 'https:');
  if (reachable) return;
  throw new GatewayConfigError([
    {
      variable: 'INVOICING_URL',
      message:
        `must be invoicing's public address${live ? ', https (live keys),' : ''} where Stripe delivers its webhooks ` +
        '(not localhost, a private address or a single-label host), or set GATEWAY_WEBHOOK_SECRET of an endpoint ' +
        "registered in Stripe's dashboard, when GATEWAY_URL is Stripe's API",
    },
  ]);
}
