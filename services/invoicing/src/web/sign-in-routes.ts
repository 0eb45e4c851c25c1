// Signing in and out of the invoice pages: a sign-in link opens a confirmation
// page; its form uses the link up (once, across both web apps) and opens a
// fresh session. A hand-over link made for cc-forms is no link here. Registered
// inside the web plugin (routes.ts), so its CSRF check and headers apply.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { consumeSignInLink, sendPage as page, signInLinkStatus, type SessionCookie } from '@vault/web';
import type { Logger } from '@vault/runtime';
import type pg from 'pg';
import { SIGN_IN_APP } from '../access/sessions.ts';
import type { Viewer } from './html.ts';
import { notices } from './pages/notice.ts';

/** `/signin?link=vl_…`: the link's secret (the form posts it back as `link`). */
const SignInLink = z.object({ link: z.string().min(1).max(512) });

export interface SignInDeps {
  pool: pg.Pool;
  log: Logger;
  session: SessionCookie;
  viewerOf(session: { accountId: string; sessionId: string }): Viewer;
}

export function signInRoutes(web: FastifyInstance, { pool, log, session, viewerOf }: SignInDeps): void {
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

  // The confirmation: the link is used up (once, atomically), then a fresh
  // session replaces whatever session the browser had.
  web.post('/signin', async (req, reply) => {
    const form = SignInLink.safeParse(req.body);
    if (!form.success) return page(reply, 400, notices.signInWithoutLink());
    const grant = await consumeSignInLink(pool, form.data.link, SIGN_IN_APP);
    if (grant === undefined) {
      const status = await signInLinkStatus(pool, form.data.link, SIGN_IN_APP);
      log.warn('web.signin_refused', { reason: status?.state ?? 'unknown_link' });
      return page(reply, 401, notices.signInRefused());
    }
    await session.signIn(req, reply, grant);
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
