// Invoicing's configuration: the variables it reads, and only those, plus what
// it derives from them (the price book, the gateway), all checked at boot
// before the database is touched. Imports only leaf modules: the CLI's
// VaultSettings (scripts/cli/vault-settings.ts) gathers this schema.
import { z } from 'zod';
import type { PriceBook } from '@vault/contracts';
import { gatewayTarget, type GatewayTarget } from '@vault/gateway/config';
import {
  adminToken,
  bootVariables,
  ConfigError,
  gatewayVariables,
  isoDurations,
  optionalString,
  parseConfig,
  port,
  positiveNumber,
  requireAdminTokenInDeployment,
  webVariables,
} from '@vault/runtime/variables';
import { loadPriceBook } from './billing/price-book-file.ts';

export const InvoicingSettings = requireAdminTokenInDeployment(
  z.object({
    ...bootVariables,
    ...gatewayVariables,
    ...webVariables,
    /** At least 32 characters; required with DATABASE_URL; unset in development: $VAULT_HOME/admin_token. */
    ADMIN_TOKEN: adminToken,
    /** A price book JSON file; unset: the shipped one (data/price-book.json). */
    PRICE_BOOK: optionalString,
    /** Where the gateway reaches invoicing (its webhooks); unset: http://localhost:INVOICING_PORT. */
    INVOICING_URL: optionalString,
    /** Waits before each retry of a declined charge (ISO-8601 durations); billing-rules.md: two retries. */
    PAYMENT_RETRY_SCHEDULE: isoDurations('P3D,P5D'),
    /** How often invoicing charges finalized invoices that are due a charge. */
    CHARGE_EVERY_SECONDS: positiveNumber(60),
    INVOICE_GRACE_HOURS: positiveNumber(72),
    /** How often invoicing's schedule finalizes the months that are due. */
    INVOICE_FINALIZE_EVERY_SECONDS: positiveNumber(300),
    INVOICING_PORT: port(3000),
  }),
);
export type InvoicingSettings = z.infer<typeof InvoicingSettings>;

export interface InvoicingConfig extends InvoicingSettings {
  prices: PriceBook;
  gateway: GatewayTarget;
}

/** Throws a ConfigError naming every bad variable, PRICE_BOOK's file and the gateway's keys included. */
export function invoicingConfig(env: NodeJS.ProcessEnv): InvoicingConfig {
  const settings = parseConfig(InvoicingSettings, env);
  const problems: ConfigError['problems'] = [];
  let prices: PriceBook | undefined;
  let gateway: GatewayTarget | undefined;
  try {
    prices = loadPriceBook(settings.PRICE_BOOK);
  } catch (err) {
    problems.push({ variable: 'PRICE_BOOK', message: (err as Error).message });
  }
  try {
    gateway = gatewayTarget(settings);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (!prices || !gateway) throw new ConfigError(problems);
  return { ...settings, prices, gateway };
}
