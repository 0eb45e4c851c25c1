// Cookies parsed and written by hand (no dependency for two headers).

/**
 * Cookies of a `Cookie` header by name; the first of a repeated name wins, as
 * browsers send the most specific path first. Values are taken as sent
 * (session ids are base64url and need no decoding).
 */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name && !out.has(name)) out.set(name, value);
  }
  return out;
}

const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const VALUE = /^[A-Za-z0-9!#$%&'()*+./:<=>?@[\]^_`{|}~-]*$/;

export interface SessionCookieOptions {
  /** Seconds the browser keeps it; 0 tells it to forget the cookie now. */
  maxAgeSeconds: number;
  /** Only over TLS: set whenever the request came over https. */
  secure: boolean;
}

/**
 * The name a cookie goes by on a request: over TLS `__Host-<name>`, which a
 * browser keeps only when it is Secure, Path=/ and without Domain, so neither
 * plain http nor a sibling subdomain can plant or overwrite it.
 */
export const cookieName = (name: string, secure: boolean) => (secure ? `__Host-${name}` : name);

/**
 * A `Set-Cookie` value for a session: HttpOnly (no script reads it),
 * SameSite=Lax (no cross-site POST carries it), the whole site.
 */
export function sessionCookieHeader(name: string, value: string, options: SessionCookieOptions): string {
  if (!TOKEN.test(name)) throw new RangeError(`not a cookie name: ${JSON.stringify(name)}`);
  if (name.startsWith('__Host-') && !options.secure) throw new RangeError('a __Host- cookie must be Secure');
  if (!VALUE.test(value)) throw new RangeError('a cookie value must be plain ASCII without spaces, quotes, commas or semicolons');
  const secure = options.secure ? '; Secure' : '';
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}${secure}`;
}

/** Tells the browser to forget a session cookie. */
export function clearedCookieHeader(name: string, secure: boolean): string {
  return sessionCookieHeader(name, '', { maxAgeSeconds: 0, secure });
}
