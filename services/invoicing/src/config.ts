// Invoicing's configuration: the variables it reads, and only those, plus what
// it derives from them (the price book, the gateway), all checked at boot
// before the database is touched. Imports only leaf modules: the CLI's
// VaultSettings (scripts/cli/vault-settings.ts) gathers this schema.
import addressparser from 'nodemailer/lib/addressparser';
import { z } from 'zod';
import type { PriceBook } from '@vault/contracts';
import { checkWebhookSecret, gatewayTarget, type GatewayTarget } from '@vault/gateway/config';
import {
  adminToken,
  blankToUndefined,
  bootVariables,
  ConfigError,
  GatewaySettings,
  gatewayVariables,
  isoDurations,
  isoDurationSeconds,
  loopSeconds,
  kafkaBrokers,
  optionalString,
  parseConfig,
  port,
  cardAttemptsPerHour,
  numberVariable,
  requireAdminTokenInDeployment,
  stringWithDefault,
  topicName,
  webVariables,
  httpUrl,
  webUrl,
} from '@vault/runtime/variables';
import { loadPriceBook, PriceBookError, readPriceBook } from './billing/price-book-file.ts';
import { checkWebhookAddress } from './charging/webhook-address.ts';

/** INVOICE_GRACE_HOURS when unset: also what the exports assume when not given the setting (route tests, the bench). */
export const DEFAULT_GRACE_HOURS = 72;

/**
 * The shortest CHARGE_EVERY_SECONDS (it also paces a failed webhook catch-up's retry): 10 ms refuses a
 * microsecond typo; the tests race passes every 20 ms. The catch-up's own floor is 0.5 s, finalize's 1 s.
 */
const CHARGE_FLOOR_SECONDS = 0.01;

/** The longest SUSPEND_PAST_DUE_AFTER: a cutoff that far back is a date still, and P36500D is how "never" was written. */
const MAX_SUSPEND_DAYS = 36_500;

/** One positive ISO-8601 duration of days to seconds (P7D, PT12H, PT2S), in seconds, at most `maxDays`. */
const isoDuration = (fallback: string, maxDays: number) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(fallback)
      .transform((s, ctx) => {
        const seconds = isoDurationSeconds(s.trim());
        if (seconds === undefined || seconds <= 0) {
          ctx.addIssue({ code: 'custom', message: `expected one ISO-8601 duration such as P7D or PT12H, got ${JSON.stringify(s)}` });
          return z.NEVER;
        }
        if (seconds > maxDays * 86_400) {
          ctx.addIssue({ code: 'custom', message: `must be at most P${maxDays}D, got ${JSON.stringify(s)}` });
          return z.NEVER;
        }
        return seconds;
      }),
  );

/** smtp:// or smtps:// with a host; the value is never echoed (it may hold a password). */
const smtpUrl = z.preprocess(
  blankToUndefined,
  z
    .string()
    .optional()
    .refine(
      (text) => text === undefined || (URL.canParse(text) && /^smtps?:$/.test(new URL(text).protocol) && new URL(text).hostname !== ''),
      {
        error: 'expected smtp://[user:password@]host[:port] or smtps://…',
      },
    ),
);

/**
 * One mailbox, as nodemailer reads it (its own parser): `local@domain`, `Name <local@domain>`,
 * `local@domain (Name)`. Anything else passed boot, then nodemailer sent with an empty envelope
 * sender and no From header (a bare name), two From mailboxes, or a group (`Acme: …`): relays
 * refused every email, retried for 5 days.
 */
const mailbox = (fallback: string) =>
  stringWithDefault(fallback).refine(
    (text) => {
      const parsed = addressparser(text);
      const [one] = parsed;
      return parsed.length === 1 && one !== undefined && !('group' in one) && /^[^\s@<>,;:"]+@[^\s@<>,;:"]+$/.test(one.address);
    },
    { error: 'expected one address: billing@example.com or The Vault billing <billing@example.com>' },
  );

/**
 * GATEWAY_MINIMUM_CHARGE: an amount above zero with two decimals ("10.00"); its currency is the price
 * book's, and loadPriceBook checks it against that (required, or at least the published minimum).
 */
const minimumChargeSetting = z.preprocess(
  blankToUndefined,
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || (/^\d{1,9}\.\d{2}$/.test(text) && !/^0+\.00$/.test(text))) return text;
      ctx.addIssue({
        code: 'custom',
        message: `expected an amount in the price book's currency above zero with two decimals, such as 10.00, got ${JSON.stringify(text)}`,
      });
      return z.NEVER;
    }),
);

export const InvoicingSettings = requireAdminTokenInDeployment(
  z.object({
    ...bootVariables,
    ...gatewayVariables,
    ...webVariables,
    /** At least 32 characters; required with DATABASE_URL; unset in development: $VAULT_HOME/admin_token. */
    ADMIN_TOKEN: adminToken,
    /** A price book JSON file; unset: the shipped one (data/price-book.json). */
    PRICE_BOOK: optionalString,
    /** The gateway's smallest charge in the price book's currency: required where Stripe publishes none (ZAR, …). */
    GATEWAY_MINIMUM_CHARGE: minimumChargeSetting,
    /** Where the gateway reaches invoicing (its webhooks); unset: http://localhost:INVOICING_PORT. */
    INVOICING_URL: httpUrl,
    /** Where customers open their invoices (emails' and sign-in links' address); unset: http://localhost:INVOICING_PORT. */
    INVOICING_WEB_URL: webUrl,
    /** Where customers open the card form (the invoice pages link to it); unset: http://localhost:CC_FORMS_PORT. */
    CC_FORMS_URL: webUrl,
    CC_FORMS_PORT: port(3002),
    /** Waits before each retry of a declined charge (ISO-8601 durations); two retries (docs/contracts/invoicing.md, Payment postconditions). */
    PAYMENT_RETRY_SCHEDULE: isoDurations('P3D,P5D'),
    /**
     * Card attempts an account may make per hour (cc-forms reads it too): here, other cards an invoice's
     * payment page may be declined for in an hour before its PaymentIntent is canceled (charging/card-testing.ts).
     */
    CARD_ATTEMPTS_PER_HOUR: cardAttemptsPerHour,
    /** How often invoicing charges finalized invoices that are due a charge. */
    CHARGE_EVERY_SECONDS: loopSeconds(60, CHARGE_FLOOR_SECONDS),
    /** How often invoicing checks its webhook endpoint and catches up with the gateway's events its webhooks missed. */
    WEBHOOK_CATCH_UP_EVERY_SECONDS: loopSeconds(300, 0.5),
    /** At most a year: beyond, a month's due instant is no valid date, and nothing would hold a running month. */
    INVOICE_GRACE_HOURS: numberVariable(z.number().min(0).max(8784, 'must be at most 8784 (a year)'), DEFAULT_GRACE_HOURS),
    /** Kafka for the notices (api.md "Notices"); unset: notices are only at GET /v1/notices. */
    KAFKA_BROKERS: kafkaBrokers,
    BILLING_NOTICES_TOPIC: topicName('platform.billing-notices.v1'),
    /** How long an invoice may be past due before its account is suspended (one ISO-8601 duration), in seconds. */
    SUSPEND_PAST_DUE_AFTER: isoDuration('P7D', MAX_SUSPEND_DAYS),
    /** The customers' emails go through this SMTP server; unset: each email is one log line. */
    SMTP_URL: smtpUrl,
    EMAIL_FROM: mailbox('The Vault billing <billing@vault.invalid>'),
    /** How often invoicing's schedule finalizes the months that are due. */
    INVOICE_FINALIZE_EVERY_SECONDS: loopSeconds(300, 1),
    /** How often the usage aggregates fold metering's queued changes in (a fold that finds a full batch goes on at once). */
    USAGE_FOLD_EVERY_SECONDS: loopSeconds(1, 0.1),
    INVOICING_PORT: port(3000),
  }),
);
export type InvoicingSettings = z.infer<typeof InvoicingSettings>;

export interface InvoicingConfig extends InvoicingSettings {
  prices: PriceBook;
  gateway: GatewayTarget;
  /** CC_FORMS_URL, or the card form's local address. */
  ccFormsUrl: string;
}

/** Where customers open their invoices (emails, sign-in links): INVOICING_WEB_URL, or the local address. */
export const invoicingWebUrl = (settings: { INVOICING_WEB_URL?: string | undefined; INVOICING_PORT: number }) =>
  settings.INVOICING_WEB_URL ?? `http://localhost:${settings.INVOICING_PORT}`;

/**
 * Throws a ConfigError naming every bad variable at once: the schema's, PRICE_BOOK's
 * file and the gateway's keys, each checked even when another is wrong.
 */
export function invoicingConfig(env: NodeJS.ProcessEnv): InvoicingConfig {
  const problems: ConfigError['problems'] = [];
  const collect = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else if (err instanceof PriceBookError) problems.push({ variable: err.variable, message: err.message });
      else throw err;
      return undefined;
    }
  };
  const settings = collect(() => parseConfig(InvoicingSettings, env));
  // PRICE_BOOK as the schema reads it (blank is unset), whatever else is wrong; checked with
  // GATEWAY_MINIMUM_CHARGE unless that is malformed (the schema's problem names it: not "required" too).
  const minimum = minimumChargeSetting.safeParse(env.GATEWAY_MINIMUM_CHARGE);
  const prices = collect(() =>
    minimum.success ? loadPriceBook(env.PRICE_BOOK || undefined, minimum.data) : readPriceBook(env.PRICE_BOOK || undefined),
  );
  // Without the whole schema, the gateway's own variables alone; when they are bad too, the
  // schema's problems already name them.
  const gatewaySettings = settings ?? GatewaySettings.safeParse(env).data;
  const gateway = gatewaySettings && collect(() => gatewayTarget(gatewaySettings));
  if (gatewaySettings) collect(() => checkWebhookSecret(gatewaySettings.GATEWAY_WEBHOOK_SECRET));
  if (settings && gateway) collect(() => checkWebhookAddress(settings));
  if (!settings || !prices || !gateway || problems.length > 0) throw new ConfigError(problems);
  return { ...settings, prices, gateway, ccFormsUrl: settings.CC_FORMS_URL ?? `http://localhost:${settings.CC_FORMS_PORT}` };
}
