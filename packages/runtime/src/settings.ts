import { z } from 'zod';
import { blankToUndefined, optionalString, port, positiveNumber, stringWithDefault } from './config.ts';

/**
 * The variables of shared/spec/api.md plus the project's own, each with its
 * default. Apps pick the fields they need; `.env.example` lists them all.
 */
export const VaultSettings = z.object({
  /** PostgreSQL for all apps; unset: an embedded server under ./.vault/. */
  DATABASE_URL: optionalString,
  /** Comma-separated Kafka bootstrap servers; unset: the embedded bus in PostgreSQL. */
  KAFKA_BROKERS: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? v : undefined),
    z
      .string()
      .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
      .optional(),
  ),
  /** The billing events topic. */
  BILLING_EVENTS_TOPIC: stringWithDefault('platform.billing-events.v1'),
  /** Metering's consumer group: one group per metering database. */
  METERING_CONSUMER_GROUP: stringWithDefault('metering'),
  PRICE_BOOK: optionalString,
  ADMIN_TOKEN: optionalString,
  GATEWAY_URL: optionalString,
  GATEWAY_SECRET_KEY: optionalString,
  GATEWAY_PUBLISHABLE_KEY: optionalString,
  /** Stripe.js (or the sandbox's stand-in); unset: derived from GATEWAY_URL. */
  GATEWAY_JS_URL: optionalString,
  /** The signing secret of invoicing's webhook endpoint; unset: invoicing registers its endpoint through the API and keeps the secret. */
  GATEWAY_WEBHOOK_SECRET: optionalString,
  /** Where the gateway reaches invoicing (its webhooks); unset: http://localhost:INVOICING_PORT. */
  INVOICING_URL: optionalString,
  /** Waits before each retry of a declined charge (ISO-8601 durations); billing-rules.md: two retries. */
  PAYMENT_RETRY_SCHEDULE: z.preprocess(
    blankToUndefined,
    z
      .string()
      .default('P3D,P5D')
      .transform((s, ctx) => {
        const parts = s.split(',').map((p) => p.trim()).filter(Boolean);
        const seconds = parts.map(isoDurationSeconds);
        if (seconds.some((x) => x === undefined || x <= 0)) {
          ctx.addIssue({ code: 'custom', message: `expected comma-separated ISO-8601 durations such as P3D,P5D or PT30S, got "${s}"` });
          return z.NEVER;
        }
        return seconds as number[];
      }),
  ),
  /** How often invoicing charges finalized invoices that are due a charge. */
  CHARGE_EVERY_SECONDS: positiveNumber(60),
  /** Card attempts (new setup intents) an account may make per hour on the card form. */
  CARD_ATTEMPTS_PER_HOUR: positiveNumber(10),
  /** The sandbox gateway's added delay before answering (tests of requests in flight). */
  GATEWAY_SANDBOX_LATENCY_MS: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).default(0)),
  INVOICE_GRACE_HOURS: positiveNumber(72),
  /** How often invoicing's schedule finalizes the months that are due. */
  INVOICE_FINALIZE_EVERY_SECONDS: positiveNumber(300),
  METERING_PORT: port(3001),
  INVOICING_PORT: port(3000),
  CC_FORMS_PORT: port(3002),
  GATEWAY_PORT: port(3003),
  /** Interface the apps listen on; 0.0.0.0 in containers. */
  HOST: stringWithDefault('127.0.0.1'),
  /** Where the embedded PostgreSQL, the embedded bus's state and local Kafka live. */
  VAULT_HOME: stringWithDefault('.vault'),
  /** The embedded PostgreSQL's port. */
  EMBEDDED_PG_PORT: port(54329),
  /** `vault kafka start`: the local broker's port, and its controller's (default: port + 1). */
  KAFKA_PORT: port(9092),
  KAFKA_CONTROLLER_PORT: z.preprocess(blankToUndefined, z.coerce.number().int().min(1).max(65535).optional()),
});
/**
 * Seconds in an ISO-8601 duration of days, hours, minutes and seconds
 * (P3D, PT12H, P1DT30M, PT0.5S); months and years are refused, as their length varies.
 */
export function isoDurationSeconds(text: string): number | undefined {
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [d, h, min, sec] = m.slice(1).map((x) => Number(x ?? 0));
  return d! * 86400 + h! * 3600 + min! * 60 + sec!;
}

export type VaultSettings = z.infer<typeof VaultSettings>;
