// A cookie session over HTTP, as both web apps use it: which session a
// request's cookie names, sign-in (always a fresh id), sign-out, and the
// signed-in guard. Typed by the little it needs of a request and a reply
// (Fastify's fit), so this package stays free of a web framework.
import type pg from 'pg';
import { clearedCookieHeader, parseCookies, sessionCookieHeader } from './cookies.ts';
import type { CookieSessions } from './sessions.ts';

export interface CookieRequest {
  readonly headers: { cookie?: string | undefined };
  /** Secure cookies whenever the request came over TLS; plain http (local development, tests) cannot keep them. */
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

export interface SessionCookie {
  /** The session id the request's cookie holds, if any (it may name no session). */
  idOf(req: CookieRequest): string | undefined;
  /** The live session the request's cookie names, if any. */
  current(req: CookieRequest): Promise<SignedInSession | undefined>;
  /** The live session, or a 303 to `/` that forgets a cookie naming none. */
  required(req: CookieRequest, reply: CookieReply): Promise<SignedInSession | undefined>;
  /**
   * Opens a session for the account and sets its cookie. A fresh id every
   * time, and the request's old session is closed: an id planted before
   * sign-in is never promoted.
   */
  signIn(req: CookieRequest, reply: CookieReply, accountId: string): Promise<void>;
  /** Closes the request's session and clears its cookie. */
  signOut(req: CookieRequest, reply: CookieReply): Promise<void>;
}

export function sessionCookie(options: { name: string; sessions: CookieSessions; pool: pg.Pool }): SessionCookie {
  const { name, sessions, pool } = options;
  const secure = (req: CookieRequest) => req.protocol === 'https';
  const idOf = (req: CookieRequest) => parseCookies(req.headers.cookie).get(name);
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
        if (idOf(req) !== undefined) reply.header('set-cookie', clearedCookieHeader(name, secure(req)));
        reply.redirect('/', 303);
      }
      return session;
    },
    async signIn(req, reply, accountId) {
      await sessions.close(pool, idOf(req));
      const id = await sessions.open(pool, accountId);
      reply.header('set-cookie', sessionCookieHeader(name, id, { maxAgeSeconds: sessions.hours * 3600, secure: secure(req) }));
    },
    async signOut(req, reply) {
      await sessions.close(pool, idOf(req));
      reply.header('set-cookie', clearedCookieHeader(name, secure(req)));
    },
  };
}
