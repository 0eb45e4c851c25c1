// Signing in and out of the invoice pages: a sign-in link opens a confirmation
// page; its form uses the link up (once, across both web apps) and opens a
// fresh session, in one transaction. A hand-over link made for cc-forms is no
// link here. Registered inside the web plugin (routes.ts), so its CSRF check and
// headers apply.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { withTransaction } from '@vault/db';
import {
  consumeSignInLink,
  isLinkSecret,
  sendPage as page,
  sessionCookie,
  signInLinkStatus,
  type SessionCookie,
  type SessionGrant,
} from '@vault/web';
import type { Logger } from '@vault/runtime';
import type pg from 'pg';
import { SESSION_COOKIE, SIGN_IN_APP, sessions } from '../access/sessions.ts';
import type { Viewer } from './html.ts';
import { notices } from './pages/notice.ts';

/** `/signin?link=vl_…`: the link's secret (the form posts it back as `link`). */
const SignInLink = z.object({ link: z.string().min(1).max(512) });

export interface SignInDeps {
  pool: pg.Pool;
  log: Logger;
  session: SessionCookie;
  viewerOf(session: { accountId: string; sessionId: string }): Viewer;
  /** INVOICING_WEB_URL, as `session` has it: https makes the session cookie Secure. */
  publicUrl: string | undefined;
}

/**
 * Uses the link up and opens its session (closing the browser's old one) in one transaction, then
 * sets the cookies. A session insert stopped on its way (DATABASE_STATEMENT_TIMEOUT_MS behind a
 * lock, the session ended by the server) rolls the link's use back with it: the link still signs in,
 * once. Two posts of one link at once: the second waits on the first's row lock, then finds it used.
 * Undefined (no cookie) when the link opens nothing.
 */
async function signInWithLink(
  pool: pg.Pool,
  publicUrl: string | undefined,
  req: FastifyRequest,
  reply: FastifyReply,
  link: string,
): Promise<SessionGrant | undefined> {
  if (!isLinkSecret(link)) return undefined;
  let cookies: [string, string][] = [];
  const grant = await withTransaction(
    pool,
    async (client) => {
      // Run again from the start after a deadlock: only the last run's cookies.
      cookies = [];
      // The link and session helpers take a pool and only call its query(): the client stands in for one.
      const db = client as unknown as pg.Pool;
      const granted = await consumeSignInLink(db, link, SIGN_IN_APP);
      if (granted === undefined) return undefined;
      const held = { header: (name: string, value: string) => cookies.push([name, value]), redirect: () => undefined };
      await sessionCookie({ name: SESSION_COOKIE, sessions, pool: db, publicUrl }).signIn(req, held, granted);
      return granted;
    },
    { name: 'web.signin' },
  );
  for (const [name, value] of cookies) reply.header(name, value);
  return grant;
}

export function signInRoutes(web: FastifyInstance, { pool, log, session, viewerOf, publicUrl }: SignInDeps): void {
  web.get('/', async (req, reply) => {
    if (await session.current(req)) return reply.redirect('/invoices', 303);
    return page(reply, 200, notices.signedOut());
  });

  // Opening a link only asks: it never signs in, and never changes the
  // session the browser has. Used, expired, revoked and unknown links get one
  // page asking for a new link.
  web.get('/signin', async (req, reply) => {
    const query = SignInLink.safeParse(req.query);
    if (!query.success) return page(reply, 400, notices.signInWithoutLink());
    const status = await signInLinkStatus(pool, query.data.link, SIGN_IN_APP);
    if (status?.state !== 'valid') {
      log.warn('web.signin_refused', { reason: status?.state ?? 'unknown_link' });
      return page(reply, 401, notices.signInRefused());
    }
    const current = await session.current(req);
    const csrf = session.signInCsrf(req, reply);
    return page(
      reply,
      200,
      notices.signInConfirm({ accountId: status.accountId, link: query.data.link, csrf, current: current && viewerOf(current) }),
    );
  });

  // The confirmation: the link is used up (once, atomically) and a fresh
  // session replaces whatever session the browser had, in one transaction.
  web.post('/signin', async (req, reply) => {
    const form = SignInLink.safeParse(req.body);
    if (!form.success) return page(reply, 400, notices.signInWithoutLink());
    const grant = await signInWithLink(pool, publicUrl, req, reply, form.data.link);
    if (grant === undefined) {
      const status = await signInLinkStatus(pool, form.data.link, SIGN_IN_APP);
      log.warn('web.signin_refused', { reason: status?.state ?? 'unknown_link' });
      return page(reply, 401, notices.signInRefused());
    }
    log.info('web.signin', { account_id: grant.accountId, token_id: grant.tokenId });
    return reply.redirect('/invoices', 303);
  });

  web.get('/signout', async (req, reply) => {
    const live = await session.required(req, reply);
    if (live === undefined) return reply;
    return page(reply, 200, notices.signOut(viewerOf(live)));
  });

  web.post('/signout', async (req, reply) => {
    await session.signOut(req, reply);
    return reply.redirect('/', 303);
  });
}
