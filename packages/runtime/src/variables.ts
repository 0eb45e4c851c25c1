// The pieces every app's configuration (services/<app>/src/config.ts) is built
// from: parsers of one variable, and the groups several apps read alike. Imports
// nothing but zod (and node:fs, for DATABASE_URL's certificate files), so an
// app's config module stays a leaf.
import { z } from 'zod';
import { blankToUndefined, ConfigError, integerVariable, optionalString, parseConfig as parseEachVariable, port } from './config.ts';
import { databaseTlsProblem, pgSslModeProblem } from './database-tls.ts';
import { kafkaBrokers } from './kafka-brokers.ts';
import { textWithDefault } from './text-variables.ts';
import { WEB_ADDRESS_SHAPE, webAddress } from './web-address.ts';

export * from './config.ts';
export { kafkaBrokers } from './kafka-brokers.ts';
export * from './text-variables.ts';
export { webOrigin } from './web-address.ts';

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
  const parts: [string, string][] = [
    ['user name', url.username],
    ['password', url.password],
    ['database name', url.pathname],
  ];
  for (const [part, encoded] of parts) {
    if (!decodes(encoded)) return `the ${part} is not valid percent-encoding (write % as %25)`;
  }
  return databaseTlsProblem(url.searchParams);
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
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

/**
 * PGSSLMODE: node-pg's own variable for TLS. It is judged with DATABASE_URL
 * (parseConfig below), since node-pg honours it only for a URL that sets none
 * of ssl, sslmode, sslrootcert, sslcert or sslkey; blank or unset: nothing.
 */
export const pgSslMode = optionalString;

/** The URL's parameters with which node-pg ignores PGSSLMODE. */
const URL_TLS_PARAMETERS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey'];

/**
 * What is wrong with PGSSLMODE where node-pg would take it: a DATABASE_URL
 * without TLS parameters. Unset DATABASE_URL is the embedded PostgreSQL, whose
 * URL says sslmode=disable; a malformed one is DATABASE_URL's own problem.
 */
function pgSslModeInEffectProblem(env: Record<string, string | undefined>): string | undefined {
  const mode = blankToUndefined(env.PGSSLMODE);
  const url = blankToUndefined(env.DATABASE_URL);
  if (typeof mode !== 'string' || typeof url !== 'string') return undefined;
  let params: URLSearchParams;
  try {
    params = new URL(url.trim()).searchParams;
  } catch {
    return undefined;
  }
  if (URL_TLS_PARAMETERS.some((name) => params.has(name))) return undefined;
  return pgSslModeProblem(mode);
}

/**
 * The configuration `schema` reads from `env`: each variable by its parser,
 * then PGSSLMODE beside DATABASE_URL when the schema reads both. Every problem
 * in one ConfigError.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env,
): z.infer<S> {
  let parsed: z.infer<S> | undefined;
  let problems: { variable: string; message: string }[] = [];
  try {
    parsed = parseEachVariable(schema, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems = [...err.problems];
  }
  const shape = schema instanceof z.ZodObject ? (schema.shape as Record<string, unknown>) : {};
  const tls = 'PGSSLMODE' in shape && 'DATABASE_URL' in shape ? pgSslModeInEffectProblem(env) : undefined;
  if (tls) problems.push({ variable: 'PGSSLMODE', message: tls });
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed as z.infer<S>;
}

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

/** The longest duration a setting takes: 3650 days (an instant that far ahead is still a valid date everywhere). */
const MAX_DURATION_SECONDS = 3650 * 86400;
const DURATION_TOO_LONG = 'each duration must be at most P3650D';

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
        if (seconds.some((x) => x! > MAX_DURATION_SECONDS)) {
          ctx.addIssue({ code: 'custom', message: `${DURATION_TOO_LONG}, got "${s}"` });
          return z.NEVER;
        }
        return seconds as number[];
      }),
  );

/** A whole number within [min, max], `fallback` when unset. */
const boundedInteger = (fallback: number, min: number, max: number) => integerVariable(fallback, min, max);

/** DATABASE_STATEMENT_TIMEOUT_MS's floor (0 aside), as HTTP_REQUEST_TIMEOUT_MS's: 1–99 ms answered every request 503. */
export const MIN_STATEMENT_TIMEOUT_MS = 100;

/** What runApp reads for every app: its database, the interface it listens on, its HTTP limits. */
export const bootVariables = {
  /** PostgreSQL; unset: an embedded server under $VAULT_HOME/postgres. */
  DATABASE_URL: databaseUrl,
  /** node-pg's TLS mode for a DATABASE_URL without TLS parameters (the embedded PostgreSQL never takes it). */
  PGSSLMODE: pgSslMode,
  /** Where the embedded PostgreSQL (and the CLI's local state) lives. */
  VAULT_HOME: textWithDefault('.vault'),
  /** The embedded PostgreSQL's port. */
  EMBEDDED_PG_PORT: port(54329),
  /** Interface the apps listen on; 0.0.0.0 in containers. */
  HOST: textWithDefault('127.0.0.1'),
  /**
   * How long a request may take to arrive, headers and body, in ms (else 408 and
   * the connection closed); also how long a connection may sit idle.
   */
  HTTP_REQUEST_TIMEOUT_MS: boundedInteger(30_000, 100, 600_000),
  /** Connections an app holds open at once; beyond them new ones are closed at once. */
  HTTP_MAX_CONNECTIONS: boundedInteger(1_000, 1, 1_000_000),
  /**
   * How long one SQL statement of an HTTP request may run, lock waits included, in ms (else
   * 503 and Retry-After); 0: no limit. Background work and commands are never limited by it.
   */
  DATABASE_STATEMENT_TIMEOUT_MS: boundedInteger(30_000, 0, 3_600_000).refine(
    (ms) => ms === 0 || ms >= MIN_STATEMENT_TIMEOUT_MS,
    `must be 0 (no limit) or at least ${MIN_STATEMENT_TIMEOUT_MS} ms: a shorter limit stops nearly every request's statements (503)`,
  ),
};
export const BootSettings = z.object(bootVariables);
export type BootSettings = z.infer<typeof BootSettings>;

export const ADMIN_TOKEN_MIN_LENGTH = 32;
export const ADMIN_TOKEN_REQUIRED = `required with DATABASE_URL (a deployment), at least ${ADMIN_TOKEN_MIN_LENGTH} characters; only development (no DATABASE_URL) generates one`;

/**
 * ADMIN_TOKEN: the admin's bearer token, at least 32 characters. Unset: only in
 * development, where the installation's token is kept in $VAULT_HOME/admin_token
 * (see requireAdminTokenInDeployment). What is wrong never quotes it.
 */
export const adminToken = z.preprocess(
  blankToUndefined,
  z
    .string()
    .min(ADMIN_TOKEN_MIN_LENGTH, `must have at least ${ADMIN_TOKEN_MIN_LENGTH} characters`)
    .regex(/^\S+$/, 'must not contain whitespace')
    .optional(),
);

/**
 * An app's settings that read ADMIN_TOKEN and DATABASE_URL: with DATABASE_URL
 * set (a deployment) ADMIN_TOKEN is required, named with every other bad variable.
 */
export function requireAdminTokenInDeployment<T extends z.ZodObject<{ ADMIN_TOKEN: typeof adminToken; DATABASE_URL: typeof databaseUrl }>>(
  schema: T,
): T {
  return schema.refine((s) => !s.DATABASE_URL || Boolean(s.ADMIN_TOKEN), {
    path: ['ADMIN_TOKEN'],
    message: ADMIN_TOKEN_REQUIRED,
    // Checked even when another variable is bad: every problem in one error.
    when: () => true,
  });
}

/** A Kafka topic's name (1–249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`), so the embedded bus takes only what Kafka would. */
export const topicName = (fallback: string) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(fallback)
      .refine((t) => /^[A-Za-z0-9._-]{1,249}$/.test(t) && t !== '.' && t !== '..', {
        error: (issue) => `expected a Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-'), got ${JSON.stringify(issue.input)}`,
      }),
  );

/** The billing events' bus: Kafka, or the embedded bus in PostgreSQL. */
export const busVariables = {
  /** Comma-separated Kafka bootstrap servers; unset: the embedded bus in PostgreSQL. */
  KAFKA_BROKERS: kafkaBrokers,
  /** The billing events topic. */
  BILLING_EVENTS_TOPIC: topicName('platform.billing-events.v1'),
};

/**
 * An absolute http(s) address, kept as written (a path's trailing slash
 * included: Stripe.js's `/v3/`); unset: undefined. Anything else is refused
 * here, naming the variable, rather than as "Invalid URL" deep in a boot.
 */
export const httpUrl = z.preprocess(
  blankToUndefined,
  z
    .string()
    .optional()
    .refine((text) => text === undefined || httpAddress(text) !== undefined, {
      error: (issue) => `expected an absolute http(s) address, got ${JSON.stringify(issue.input)}`,
    }),
);

/** `text` as an absolute http(s) URL, or undefined. */
function httpAddress(text: string): URL | undefined {
  // URL.canParse, not URL.parse: the latter is Node 20.18+, and engines says 20.14.
  if (!URL.canParse(text)) return undefined;
  const url = new URL(text);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

/** The payment gateway: the sandbox (GATEWAY_PORT) by default, or Stripe's API. */
export const gatewayVariables = {
  GATEWAY_URL: httpUrl,
  GATEWAY_SECRET_KEY: optionalString,
  GATEWAY_PUBLISHABLE_KEY: optionalString,
  /** Stripe.js (or the sandbox's stand-in); unset: derived from GATEWAY_URL. */
  GATEWAY_JS_URL: httpUrl,
  /** The signing secret of invoicing's webhook endpoint; unset: invoicing registers its endpoint through the API and keeps the secret. */
  GATEWAY_WEBHOOK_SECRET: optionalString,
  /** The sandbox's port; also the default GATEWAY_URL, http://localhost:GATEWAY_PORT. */
  GATEWAY_PORT: port(3003),
};
export const GatewaySettings = z.object(gatewayVariables);
export type GatewaySettings = z.infer<typeof GatewaySettings>;

/**
 * Which proxies' `X-Forwarded-Proto` and `X-Forwarded-For` a web app believes
 * (fastify's `trustProxy`): unset, blank or `false`, none (deny by default);
 * `true`, every peer (a platform router whose addresses vary); else
 * comma-separated addresses or CIDR ranges of the proxies.
 */
export type TrustProxy = boolean | string[];

const PROXY_ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|[0-9a-fA-F:]*:[0-9a-fA-F:.]*(?:\/\d{1,3})?)$/;

export const trustProxy = z.preprocess(
  blankToUndefined,
  z
    .string()
    .optional()
    .transform((text, ctx): TrustProxy => {
      const value = text?.trim().toLowerCase();
      if (value === undefined || value === 'false') return false;
      if (value === 'true') return true;
      const addresses = value
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
      const bad = addresses.filter((a) => !PROXY_ADDRESS.test(a));
      if (addresses.length === 0 || bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected true, false, or comma-separated proxy addresses or CIDR ranges, got ${JSON.stringify(text)}`,
        });
        return z.NEVER;
      }
      return addresses;
    }),
);

/** CARD_ATTEMPTS_PER_HOUR (cc-forms and invoicing read it alike): attempts are counted, so a whole number (0.5 was taken). */
export const cardAttemptsPerHour = integerVariable(10, 1, 1_000_000);

/** What the two customer web apps (invoicing, cc-forms) read alike. */
export const webVariables = {
  /** The proxies whose X-Forwarded-Proto/For are believed (TLS ends there); unset: none. */
  TRUST_PROXY: trustProxy,
};

/**
 * An http(s) address where customers open a web app (links between the apps),
 * without a trailing slash; unset: undefined. Every app reads CC_FORMS_URL and
 * INVOICING_WEB_URL with it (web-address.ts).
 */
export const webUrl = z.preprocess(
  blankToUndefined,
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const address = webAddress(text);
      if (address === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a web address, ${WEB_ADDRESS_SHAPE}, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return address;
    }),
);
