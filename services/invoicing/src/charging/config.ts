import { gatewayClient, gatewayConfig, gatewayTarget, type Gateway, type KeysDatabase } from '@vault/gateway';
import type { InvoicingSettings } from '../config.ts';
import type { CardTesting } from './card-testing.ts';
import { type DisputeGateway, disputeGateway } from './dispute-gateway.ts';
import { type EventSource, gatewayEvents } from './event-catch-up.ts';
import { chargeGateway, type ChargeGateway } from './gateway-calls.ts';
import { webhookUrl } from './webhook-endpoint.ts';

export interface ChargingConfig {
  stripe: Gateway;
  gateway: ChargeGateway;
  /** A chargeback's card, read back by the dispute events' handler (webhooks and catch-up). */
  disputes: DisputeGateway;
  /** CARD_ATTEMPTS_PER_HOUR, and where a PaymentIntent past it is canceled (card-testing.ts). */
  cardTesting: CardTesting;
  /** PAYMENT_RETRY_SCHEDULE in seconds. */
  retrySchedule: number[];
  everyMs: number;
  /** The gateway's events, for catching up with what the webhooks missed. */
  events: EventSource;
  /** WEBHOOK_CATCH_UP_EVERY_SECONDS in ms. */
  catchUpEveryMs: number;
  /** GATEWAY_WEBHOOK_SECRET, when the operator registered the endpoint by hand. */
  webhookSecret: string | undefined;
  /** The endpoint invoicing registers itself; unset when the secret is configured. */
  webhookUrl: string | undefined;
  /** GATEWAY_URL's origin (no key): what a failure to reach the gateway is logged with (@vault/gateway's unreachable.ts). */
  gatewayOrigin: string;
}

/**
 * Charging's settings, resolved once at boot (the app) or per command (`vault
 * charge`): the gateway's keys are the configured ones, else the sandbox's,
 * read from the database (the app waits up to `waitMs` for a sandbox booting beside it).
 */
export async function chargingConfig(
  settings: InvoicingSettings,
  db: KeysDatabase,
  options: { waitMs?: number } = {},
): Promise<ChargingConfig> {
  const config = await gatewayConfig(gatewayTarget(settings), db, options);
  const stripe = gatewayClient(config);
  const invoicingUrl = settings.INVOICING_URL ?? `http://localhost:${settings.INVOICING_PORT}`;
  const gateway = chargeGateway(stripe);
  return {
    stripe,
    gateway,
    cardTesting: { limit: settings.CARD_ATTEMPTS_PER_HOUR, gateway },
    disputes: disputeGateway(stripe),
    retrySchedule: settings.PAYMENT_RETRY_SCHEDULE,
    everyMs: settings.CHARGE_EVERY_SECONDS * 1000,
    events: gatewayEvents(stripe),
    catchUpEveryMs: settings.WEBHOOK_CATCH_UP_EVERY_SECONDS * 1000,
    webhookSecret: config.webhookSecret,
    webhookUrl: config.webhookSecret ? undefined : webhookUrl(invoicingUrl),
    gatewayOrigin: config.url.origin,
  };
}
