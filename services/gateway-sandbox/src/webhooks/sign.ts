// Webhook signatures as Stripe makes them, so the SDK's
// `stripe.webhooks.constructEvent` verifies ours. Pure: no I/O.
import { createHmac } from 'node:crypto';
import { randomBase62 } from '../api/ids.ts';

/** A new endpoint's signing secret. */
export function newWebhookSecret(): string {
  return `whsec_${randomBase62(32)}`;
}

/** hex HMAC-SHA256 under the endpoint's secret of `<t>.<raw body>`. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/** The `Stripe-Signature` header: `t=<unix seconds>,v1=<signature>`. */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${webhookSignature(secret, timestamp, body)}`;
}
