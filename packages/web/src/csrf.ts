// CSRF tokens for state-changing requests, derived from the session id: an
// HMAC under the id itself. A page of the session can carry it; another site
// cannot compute it (it never sees the HttpOnly cookie), and nothing more is
// stored. A new sign-in (new id) gives a new token.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isSessionId } from './sessions.ts';

/** The header page scripts send the token in; forms send the field `_csrf`. */
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';

/** The session's CSRF token (base64url); distinct from the session id and from its stored hash. */
export function csrfToken(sessionId: string): string {
  return createHmac('sha256', sessionId).update('vault csrf v1').digest('base64url');
}

/** True only when `given` is the session's token; compared in constant time. */
export function csrfValid(sessionId: string | undefined, given: string | undefined): boolean {
  if (!isSessionId(sessionId) || typeof given !== 'string') return false;
  const expected = Buffer.from(csrfToken(sessionId));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
