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
export type VaultSettings = z.infer<typeof VaultSettings>;
