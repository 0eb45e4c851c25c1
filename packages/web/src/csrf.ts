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

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CsrfRequest {
  readonly method: string;
  readonly headers: Record<string, string | string[] | undefined>;
  /** A form's fields (urlencoded, parsed), or a script's JSON. */
  readonly body?: unknown;
}

/** The token a request carries: the X-CSRF-Token header (page scripts) or the `_csrf` form field. */
export function givenCsrfToken(req: CsrfRequest): string | undefined {
  const header = req.headers[CSRF_HEADER];
  if (typeof header === 'string') return header;
  const field = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>)[CSRF_FIELD] : undefined;
  return typeof field === 'string' ? field : undefined;
}

/**
 * Why a request is refused as a possible forgery: undefined for GET, HEAD and
 * OPTIONS and for a state-changing request whose token `valid` accepts; else
 * whether its token was missing or wrong (for the log). One hook per app calls
 * this for every request, so a new POST route cannot forget it.
 */
export function csrfProblem(req: CsrfRequest, valid: (given: string | undefined) => boolean): 'missing' | 'wrong' | undefined {
  if (SAFE_METHODS.has(req.method)) return undefined;
  const given = givenCsrfToken(req);
  if (valid(given)) return undefined;
  return given === undefined ? 'missing' : 'wrong';
}
