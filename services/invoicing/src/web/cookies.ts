// The session cookie, parsed and written by hand (no dependency for two headers).
import { SESSION_HOURS } from '../auth/sessions.ts';

export const SESSION_COOKIE = 'vault_session';

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

/** HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it), the whole site, as long as the session. */
export function sessionCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_HOURS * 3600}${secure ? '; Secure' : ''}`;
}

/** Tells the browser to forget the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure ? '; Secure' : ''}`;
}
