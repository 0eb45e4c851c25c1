// The SDK says "An error occurred with our connection to Stripe" whatever the
// gateway is (the sandbox, a proxy, Stripe): what the operator needs is which
// address did not answer, and what the network said (ECONNREFUSED 127.0.0.1:3003).
import Stripe from 'stripe';

/** Each gatewayClient's GATEWAY_URL origin (scheme, host, port: never a key), by client. */
const origins = new WeakMap<object, string>();

export function rememberOrigin(client: object, url: URL): void {
  origins.set(client, url.origin);
}

/** The origin a client of gatewayClient sends its requests to; undefined for any other client (a test's). */
export function gatewayOrigin(client: object): string | undefined {
  return origins.get(client);
}

interface NetworkError {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  message?: unknown;
  errors?: unknown;
}

/** One network error as `CODE address:port` (Node's own words otherwise). */
function describe(e: NetworkError): string {
  if (typeof e.code === 'string' && typeof e.address === 'string') {
    return `${e.code} ${e.address}${e.port === undefined ? '' : `:${String(e.port)}`}`;
  }
  const message = typeof e.message === 'string' ? e.message : '';
  if (typeof e.code === 'string') return message.includes(e.code) ? message : `${e.code} ${message}`.trim();
  return message || 'no detail';
}

/**
 * What the network said when `err` is the SDK's connection error (refused, reset, timed out, no
 * such host): `ECONNREFUSED 127.0.0.1:3003`; each address tried for a name with several
 * (localhost's ::1 and 127.0.0.1). Undefined for any other error (an answer from the gateway).
 */
export function unreachableCause(err: unknown): string | undefined {
  if (!(err instanceof Stripe.errors.StripeConnectionError)) return undefined;
  const detail = (err as { detail?: unknown }).detail;
  if (typeof detail !== 'object' || detail === null) return err.message;
  const inner = (detail as NetworkError).errors;
  const each = Array.isArray(inner) && inner.length > 0 ? (inner as NetworkError[]) : [detail as NetworkError];
  return [...new Set(each.map(describe))].join(', ');
}

/** Log fields for a failed call: `gateway` (the origin) and `cause` when it could not reach the gateway; none otherwise. */
export function unreachableFields(err: unknown, origin: string | undefined): Record<string, string> {
  const cause = unreachableCause(err);
  if (cause === undefined) return {};
  return { ...(origin ? { gateway: origin } : {}), cause };
}
