// A cookie session over HTTP, as both web apps use it: which session a
// request's cookie names, the sign-in form's CSRF token, sign-in (always a
// fresh id), sign-out, and the signed-in guard. Typed by the little it needs
// of a request and a reply (Fastify's fit), so this package stays free of a
// web framework.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { clearedCookieHeader, cookieName, parseCookies, sessionCookieHeader } from './cookies.ts';
import { csrfToken, csrfValid } from './csrf.ts';
import { overHttps } from './public-address.ts';
import { isSessionId, type CookieSessions, type SessionGrant } from './sessions.ts';

export interface CookieRequest {
  readonly headers: { cookie?: string | undefined };
  /**
   * `https` when the request came over TLS, directly or through a proxy the app
   * trusts (TRUST_PROXY): then cookies are `__Host-…; Secure`, as they are
   * whenever the app's public address is https (`publicUrl`). Plain http (local
   * development, tests) cannot keep Secure cookies.
   */
  readonly protocol: string;
}

export interface CookieReply {
  header(name: string, value: string): unknown;
  redirect(url: string, code: number): unknown;
}

export interface SignedInSession {
  accountId: string;
  /** The id the cookie holds (what CSRF tokens derive from). */
  sessionId: string;
}

/** How long the sign-in form's cookie lives: as long as a sign-in link. */
export const SIGN_IN_FORM_SECONDS = 15 * 60;

export interface SessionCookie {
  /** The session id the request's cookie holds, if any (it may name no session). */
  idOf(req: CookieRequest): string | undefined;
  /** The live session the request's cookie names, if any. */
  current(req: CookieRequest): Promise<SignedInSession | undefined>;
  /** The live session, or a 303 to `/` that forgets a cookie naming none. */
  required(req: CookieRequest, reply: CookieReply): Promise<SignedInSession | undefined>;
  /**
   * The CSRF token of the sign-in confirmation form. Signing in must not be
   * forgeable by another site (it could post its own link and sign the browser
   * into its account), and there may be no session yet: so the token derives from
   * a random value in a cookie of its own (`<name>_signin`, 15 minutes), set here
   * when the browser has none.
   */
  signInCsrf(req: CookieRequest, reply: CookieReply): string;
  /** True only when `given` is this browser's sign-in form token. */
  signInCsrfValid(req: CookieRequest, given: string | undefined): boolean;
  /**
   * Opens a session for a consumed sign-in link and sets its cookie. A fresh id
   * every time, and the request's old session is closed: an id planted before
   * sign-in is never promoted. The sign-in form's cookie is cleared.
   */
  signIn(req: CookieRequest, reply: CookieReply, grant: SessionGrant): Promise<void>;
  /** Closes the request's session and clears its cookie. */
  signOut(req: CookieRequest, reply: CookieReply): Promise<void>;
}

export function sessionCookie(options: {
  name: string;
  sessions: CookieSessions;
  pool: pg.Pool;
  /** The app's configured public address (INVOICING_WEB_URL, CC_FORMS_URL): https makes every cookie Secure. */
  publicUrl?: string | undefined;
}): SessionCookie {
  const { name, sessions, pool, publicUrl } = options;
  const formName = `${name}_signin`;
  const secure = (req: CookieRequest) => overHttps(req, publicUrl);
  const read = (req: CookieRequest, base: string) => parseCookies(req.headers.cookie).get(cookieName(base, secure(req)));
  const idOf = (req: CookieRequest) => read(req, name);
  const formNonce = (req: CookieRequest) => {
    const nonce = read(req, formName);
    return isSessionId(nonce) ? nonce : undefined;
  };
  const clear = (req: CookieRequest, reply: CookieReply, base: string) =>
    reply.header('set-cookie', clearedCookieHeader(cookieName(base, secure(req)), secure(req)));
  const current = async (req: CookieRequest): Promise<SignedInSession | undefined> => {
    const sessionId = idOf(req);
    const accountId = await sessions.account(pool, sessionId);
    return accountId === undefined || sessionId === undefined ? undefined : { accountId, sessionId };
  };
  return {
    idOf,
    current,
    async required(req, reply) {
      const session = await current(req);
      if (session === undefined) {
        if (idOf(req) !== undefined) clear(req, reply, name);
        reply.redirect('/', 303);
      }
      return session;
    },
    signInCsrf(req, reply) {
      const nonce = formNonce(req) ?? randomBytes(32).toString('base64url');
      reply.header(
        'set-cookie',
        sessionCookieHeader(cookieName(formName, secure(req)), nonce, { maxAgeSeconds: SIGN_IN_FORM_SECONDS, secure: secure(req) }),
      );
      return csrfToken(nonce);
    },
    signInCsrfValid(req, given) {
      return csrfValid(formNonce(req), given);
    },
    async signIn(req, reply, grant) {
      await sessions.close(pool, idOf(req));
      // The cookie lasts as long as the session (a hand-over's may be shorter than `hours`).
      const { id, seconds } = await sessions.open(pool, grant);
      reply.header('set-cookie', sessionCookieHeader(cookieName(name, secure(req)), id, { maxAgeSeconds: seconds, secure: secure(req) }));
      if (formNonce(req) !== undefined) clear(req, reply, formName);
    },
    async signOut(req, reply) {
      await sessions.close(pool, idOf(req));
      clear(req, reply, name);
    },
  };
}
