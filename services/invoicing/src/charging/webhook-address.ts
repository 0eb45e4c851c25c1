// Stripe delivers webhooks only to an address it can reach from the internet
// (https in live mode). Left at its default (localhost) or a compose service
// name, the endpoint is refused at every registration, and payments that
// cardholders confirm after 3-D Secure and every refund go unheard: say so at boot.
import { isIP } from 'node:net';
import { GatewayConfigError, gatewayTarget } from '@vault/gateway/config';
import type { InvoicingSettings } from '../config.ts';

const PRIVATE_V4 = [
  /^127\./,
  /^10\./,
  /^192\.168\./,
  /^172\.(1[6-9]|2\d|3[01])\./,
  /^169\.254\./,
  /^0\./,
  /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./, // carrier-grade NAT, 100.64.0.0/10
];

/** True when `host` can only be reached from this network: loopback, private, link-local or a single label. */
export function isPrivateHost(host: string): boolean {
  const name = host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  // An IPv4 address written as IPv6 (::ffff:10.0.0.1, which URL writes ::ffff:a00:1) is that IPv4 address.
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(name)?.[1];
  if (dotted) return isPrivateHost(dotted);
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(name);
  if (hex) {
    const [high, low] = [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16)];
    return isPrivateHost(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
  }
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
  // A restricted live key (rk_live_) is live too.
  const live = /^(sk|rk)_live_/.test(target.keys?.secretKey ?? '');
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
