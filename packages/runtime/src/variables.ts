// The pieces every app's configuration (services/<app>/src/config.ts) is built
// from: parsers of one variable, and the groups several apps read alike. Imports
// nothing but zod, so an app's config module stays a leaf.
import { z } from 'zod';
import { blankToUndefined, optionalString, port, stringWithDefault } from './config.ts';

export * from './config.ts';

const DATABASE_URL_SHAPE = 'expected postgres://user:password@host:port/database';

/** What is wrong with a DATABASE_URL, never quoting it (it holds a password). */
export function databaseUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `not a URL (${DATABASE_URL_SHAPE})`;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return `the scheme must be postgres:// or postgresql:// (${DATABASE_URL_SHAPE})`;
  }
  if (!url.hostname && !url.searchParams.get('host')) return `no host (${DATABASE_URL_SHAPE})`;
  return undefined;
}

/** DATABASE_URL: a postgres:// URL; unset: the embedded PostgreSQL. */
export const databaseUrl = z.preprocess(
  blankToUndefined,
  z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      const problem = value === undefined ? undefined : databaseUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
);

const BROKER = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;

/** KAFKA_BROKERS: comma-separated host:port; blank or unset: the embedded bus. */
export const kafkaBrokers = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' ? v : undefined),
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const brokers = s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean);
      const bad = brokers.filter((b) => !BROKER.test(b));
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected comma-separated host:port, got ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
        });
        return z.NEVER;
      }
      return brokers;
    }),
);

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

/** Comma-separated positive ISO-8601 durations, in seconds. */
export const isoDurations = (fallback: string) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(fallback)
      .transform((s, ctx) => {
        const seconds = s
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean)
          .map(isoDurationSeconds);
        if (seconds.length === 0 || seconds.some((x) => x === undefined || x <= 0)) {
          ctx.addIssue({ code: 'custom', message: `expected comma-separated ISO-8601 durations such as P3D,P5D or PT30S, got "${s}"` });
          return z.NEVER;
        }
        return seconds as number[];
      }),
  );

/** What runApp reads for every app: its database, and the interface it listens on. */
export const bootVariables = {
  /** PostgreSQL; unset: an embedded server under $VAULT_HOME/postgres. */
  DATABASE_URL: databaseUrl,
  /** Where the embedded PostgreSQL (and the CLI's local state) lives. */
  VAULT_HOME: stringWithDefault('.vault'),
  /** The embedded PostgreSQL's port. */
  EMBEDDED_PG_PORT: port(54329),
  /** Interface the apps listen on; 0.0.0.0 in containers. */
  HOST: stringWithDefault('127.0.0.1'),
};
export const BootSettings = z.object(bootVariables);
export type BootSettings = z.infer<typeof BootSettings>;

/** The billing events' bus: Kafka, or the embedded bus in PostgreSQL. */
export const busVariables = {
  /** Comma-separated Kafka bootstrap servers; unset: the embedded bus in PostgreSQL. */
  KAFKA_BROKERS: kafkaBrokers,
  /** The billing events topic. */
  BILLING_EVENTS_TOPIC: stringWithDefault('platform.billing-events.v1'),
};

/** The payment gateway: the sandbox (GATEWAY_PORT) by default, or Stripe's API. */
export const gatewayVariables = {
  GATEWAY_URL: optionalString,
  GATEWAY_SECRET_KEY: optionalString,
  GATEWAY_PUBLISHABLE_KEY: optionalString,
  /** Stripe.js (or the sandbox's stand-in); unset: derived from GATEWAY_URL. */
  GATEWAY_JS_URL: optionalString,
  /** The signing secret of invoicing's webhook endpoint; unset: invoicing registers its endpoint through the API and keeps the secret. */
  GATEWAY_WEBHOOK_SECRET: optionalString,
  /** The sandbox's port; also the default GATEWAY_URL, http://localhost:GATEWAY_PORT. */
  GATEWAY_PORT: port(3003),
};
export const GatewaySettings = z.object(gatewayVariables);
export type GatewaySettings = z.infer<typeof GatewaySettings>;
