// The session cookie of the invoice UI (parsing and writing from @vault/web).
import { clearedCookieHeader, sessionCookieHeader } from '@vault/web';
import { SESSION_HOURS } from '../auth/sessions.ts';

export { parseCookies } from '@vault/web';

export const SESSION_COOKIE = 'vault_session';

/** HttpOnly, SameSite=Lax, the whole site, as long as the session. */
export function sessionCookie(id: string, secure: boolean): string {
  return sessionCookieHeader(SESSION_COOKIE, id, { maxAgeSeconds: SESSION_HOURS * 3600, secure });
}

/** Tells the browser to forget the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return clearedCookieHeader(SESSION_COOKIE, secure);
}
