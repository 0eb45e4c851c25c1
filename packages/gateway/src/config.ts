// Which gateway is only configuration: the sandbox by default, Stripe's API
// (test or live mode) by setting GATEWAY_URL and the keys. Same code for both.
// The leaf of @vault/runtime: the apps' config modules import this one.
import { ConfigError, type GatewaySettings } from '@vault/runtime/variables';

const STRIPE_API_HOST = 'api.stripe.com';
const STRIPE_JS_URL = 'https://js.stripe.com/v3/';
/** Where Stripe.js frames a bank's 3-D Secure challenge (Stripe's documented CSP: frame-src). */
const STRIPE_HOOKS_ORIGIN = 'https://hooks.stripe.com';

export interface GatewayKeys {
  secretKey: string;
  publishableKey: string;
}

/** The gateway as configuration names it, checked at boot before any database is touched. */
export interface GatewayTarget {
  /** The API's base address, e.g. http://localhost:3003 or https://api.stripe.com. */
  url: URL;
  /** The Stripe.js script the card form loads. */
  jsUrl: URL;
  /** Origins the card form's CSP must allow for scripts, frames and connections. */
  origins: string[];
  /** Set when the operator configured the webhook endpoint's secret by hand. */
  webhookSecret: string | undefined;
  /**
   * GATEWAY_SECRET_KEY and GATEWAY_PUBLISHABLE_KEY when configured; undefined:
   * the sandbox's own keys, generated once per installation and read from its
   * database (sandboxKeys) once the database is open.
   */
  keys: GatewayKeys | undefined;
  /** The gateway is the sandbox (anything but Stripe's API): test cards may be sent to it by number. */
  sandbox: boolean;
}

/** The gateway with its keys: what the apps call it with. */
export interface GatewayConfig extends GatewayTarget, GatewayKeys {}

/** A ConfigError, so every app's boot reports it as `config.invalid` and exits 1. */
export class GatewayConfigError extends ConfigError {}

/** The gateway settings, resolved once at boot; the keys may still have to be read from the sandbox's database. */
export function gatewayTarget(settings: GatewaySettings): GatewayTarget {
  const url = new URL(settings.GATEWAY_URL ?? `http://localhost:${settings.GATEWAY_PORT}`);
  // The SDK takes a host, a port and a protocol: a path (a proxy's prefix), a query or credentials would be
  // dropped silently. `/v1` is the API's own prefix, which the SDK adds itself: taken, as it always was.
  if (!/^\/(?:v1\/?)?$/.test(url.pathname) || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new GatewayConfigError([
      { variable: 'GATEWAY_URL', message: `must be the gateway's origin alone (scheme, host, port), got ${JSON.stringify(redacted(url))}` },
    ]);
  }
  refuseIpv6Literals(url, settings.GATEWAY_JS_URL);
  // `api.stripe.com.` (a fully qualified name) is Stripe's API too: classified, and called, without the dot.
  const host = url.hostname.replace(/\.$/, '');
  const stripe = host === STRIPE_API_HOST || host.endsWith('.stripe.com');
  if (stripe) url.hostname = host;
  // The SDK takes the URL's protocol as given: http would send the secret key in clear text.
  if (stripe && url.protocol !== 'https:') {
    throw new GatewayConfigError([{ variable: 'GATEWAY_URL', message: `must be https when it is Stripe's API, got ${url.protocol}` }]);
  }
  const secretKey = settings.GATEWAY_SECRET_KEY;
  const publishableKey = settings.GATEWAY_PUBLISHABLE_KEY;
  // Stripe's API with made-up keys would fail at the first charge; say so at boot instead.
  if (stripe && (!secretKey || !publishableKey)) {
    throw new GatewayConfigError([
      { variable: 'GATEWAY_URL', message: "GATEWAY_SECRET_KEY and GATEWAY_PUBLISHABLE_KEY are required when GATEWAY_URL is Stripe's API" },
    ]);
  }
  // Stripe's keys only work with Stripe.js from Stripe (a sandbox's script left from another setup would fail at the first card).
  if (stripe && settings.GATEWAY_JS_URL !== undefined && new URL(settings.GATEWAY_JS_URL).origin !== new URL(STRIPE_JS_URL).origin) {
    throw new GatewayConfigError([
      { variable: 'GATEWAY_JS_URL', message: `must be ${STRIPE_JS_URL} (or unset) when GATEWAY_URL is Stripe's API` },
    ]);
  }
  if ((secretKey === undefined) !== (publishableKey === undefined)) {
    const [missing, given] = secretKey
      ? ['GATEWAY_PUBLISHABLE_KEY', 'GATEWAY_SECRET_KEY']
      : ['GATEWAY_SECRET_KEY', 'GATEWAY_PUBLISHABLE_KEY'];
    throw new GatewayConfigError([
      { variable: missing, message: `required with ${given}: set both keys, or neither to use the sandbox's own` },
    ]);
  }
  if (secretKey && publishableKey) checkKeys(secretKey, publishableKey, stripe);
  const jsUrl = new URL(settings.GATEWAY_JS_URL ?? (stripe ? STRIPE_JS_URL : new URL('/v3/', url).toString()));
  return {
    url,
    jsUrl,
    origins: [...new Set([url.origin, jsUrl.origin, ...(stripe ? [STRIPE_HOOKS_ORIGIN] : [])])],
    webhookSecret: settings.GATEWAY_WEBHOOK_SECRET,
    keys: secretKey && publishableKey ? { secretKey, publishableKey } : undefined,
    sandbox: !stripe,
  };
}

/**
 * Refuses an IPv6 literal host (`http://[::1]:3003`) in GATEWAY_URL or GATEWAY_JS_URL: their
 * origins go into the card form's Content-Security-Policy, whose host-source has no syntax for
 * one, so browsers drop it and the card form could not load Stripe.js or its frames.
 */
function refuseIpv6Literals(url: URL, jsUrl: string | undefined): void {
  const problems = [
    { variable: 'GATEWAY_URL', url },
    { variable: 'GATEWAY_JS_URL', url: jsUrl === undefined ? undefined : new URL(jsUrl) },
  ]
    .filter((c) => c.url?.hostname.startsWith('['))
    .map((c) => ({
      variable: c.variable,
      message:
        `must use a host name, not an IPv6 literal (${c.url!.hostname}): the card form's Content-Security-Policy cannot name ` +
        'one, so browsers would not load Stripe.js from it; use a host name (e.g. localhost, or a name in /etc/hosts)',
    }));
  if (problems.length > 0) throw new GatewayConfigError(problems);
}

const SECRET_KEY = /^(?:sk|rk)_(test|live)_\w+$/;
const PUBLISHABLE_KEY = /^pk_(test|live)_\w+$/;

/**
 * Refuses keys that are not Stripe's shape, swapped, of different modes, or
 * live with a gateway other than Stripe's API. Swapped keys would put the
 * secret key in every card page's HTML (cc-forms publishes the "publishable"
 * one); mixed modes fail at the first card; live keys sent to the sandbox
 * reach no bank. Applies to keys configured for the sandbox too: its own are
 * this shape, and so is every key Stripe issues. Messages never repeat a key.
 */
function checkKeys(secretKey: string, publishableKey: string, stripe: boolean): void {
  const secretMode = SECRET_KEY.exec(secretKey)?.[1];
  const publishableMode = PUBLISHABLE_KEY.exec(publishableKey)?.[1];
  const problems: { variable: string; message: string }[] = [];
  if (secretMode === undefined) {
    const swapped = PUBLISHABLE_KEY.test(secretKey) ? ': it is a publishable key (pk_), are the two keys swapped?' : '';
    problems.push({
      variable: 'GATEWAY_SECRET_KEY',
      message: `must be a secret key (sk_test_, sk_live_, rk_test_ or rk_live_ then the key)${swapped}`,
    });
  }
  if (publishableMode === undefined) {
    const swapped = SECRET_KEY.test(publishableKey)
      ? ': it is a secret key, which the card form would publish in every page; are the two keys swapped?'
      : '';
    problems.push({
      variable: 'GATEWAY_PUBLISHABLE_KEY',
      message: `must be a publishable key (pk_test_ or pk_live_ then the key)${swapped}`,
    });
  }
  if (secretMode !== undefined && publishableMode !== undefined && secretMode !== publishableMode) {
    problems.push({
      variable: 'GATEWAY_PUBLISHABLE_KEY',
      message: `is a ${publishableMode} key but GATEWAY_SECRET_KEY a ${secretMode} one: both test or both live`,
    });
  }
  if (problems.length === 0 && secretMode === 'live' && !stripe) {
    problems.push({
      variable: 'GATEWAY_URL',
      message: `must be Stripe's API (https://${STRIPE_API_HOST}) with live keys, not the sandbox`,
    });
  }
  if (problems.length > 0) throw new GatewayConfigError(problems);
}

const WEBHOOK_SECRET = /^whsec_\S+$/;

/**
 * Refuses a webhook signing secret not of Stripe's shape (the sandbox's are
 * too): one with a trailing newline from a secret file, or another key pasted
 * in (sk_…, we_…), would boot, skip registering invoicing's own endpoint, and
 * reject every delivery as a bad signature. The message never repeats it.
 * Invoicing's boot calls it, the one app that verifies deliveries: cc-forms and
 * the sandbox, which never read the secret, boot whatever a shared config holds.
 */
export function checkWebhookSecret(secret: string | undefined): void {
  if (secret === undefined || WEBHOOK_SECRET.test(secret)) return;
  const problem = WEBHOOK_SECRET.test(secret.trim()) ? ': it has a space or newline around it (as read from a file?)' : '';
  throw new GatewayConfigError([
    {
      variable: 'GATEWAY_WEBHOOK_SECRET',
      message: `must be a webhook endpoint's signing secret, whsec_ then non-whitespace characters, as the gateway shows it${problem}`,
    },
  ]);
}

/** `url` without its password, for an error message. */
function redacted(url: URL): string {
  const copy = new URL(url);
  if (copy.password !== '') copy.password = '***';
  return copy.toString();
}

/** Anything with a pg.Pool's `query` (the gateway package does not depend on pg). */
export interface KeysDatabase {
  query(text: string): Promise<{ rows: unknown[] }>;
}

/** Why the sandbox's keys could not be read; `variable` makes runApp's boot.failed line name GATEWAY_SECRET_KEY. */
export class SandboxKeysMissing extends Error {
  readonly variable = 'GATEWAY_SECRET_KEY';
}

const KEYS_QUERY = 'select secret_key, publishable_key from gateway_sandbox.api_keys';

/** PostgreSQL's codes for a schema or table that does not exist (yet). */
const NOT_YET = new Set(['3F000', '42P01']);

/**
 * The sandbox's keys, generated once per installation by its migration 002
 * and kept in its database (`gateway_sandbox.api_keys`), which every app that
 * calls the sandbox shares. Waits up to `waitMs` for a sandbox booting beside
 * this app to create them; then a SandboxKeysMissing naming what to do.
 */
export async function sandboxKeys(db: KeysDatabase, options: { waitMs?: number; pollMs?: number } = {}): Promise<GatewayKeys> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (;;) {
    try {
      const { rows } = await db.query(KEYS_QUERY);
      const row = rows[0] as { secret_key: string; publishable_key: string } | undefined;
      if (row) return { secretKey: row.secret_key, publishableKey: row.publishable_key };
    } catch (err) {
      if (!NOT_YET.has((err as { code?: string }).code ?? '')) throw err;
    }
    if (Date.now() >= deadline) {
      const waited = (options.waitMs ?? 0) >= 1000 ? ` within ${Math.round(options.waitMs! / 1000)} s` : '';
      throw new SandboxKeysMissing(
        `GATEWAY_SECRET_KEY: unset, and the gateway sandbox has published no keys in this database${waited} ` +
          '(gateway_sandbox.api_keys): start the sandbox on the same DATABASE_URL, or set GATEWAY_SECRET_KEY and GATEWAY_PUBLISHABLE_KEY',
      );
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
  }
}

/** The target with its keys: the configured ones, else the sandbox's from its database (waiting up to `waitMs`). */
export async function gatewayConfig(
  target: GatewayTarget,
  db: KeysDatabase,
  options: { waitMs?: number; pollMs?: number } = {},
): Promise<GatewayConfig> {
  const keys = target.keys ?? (await sandboxKeys(db, options));
  return { ...target, ...keys };
}
