// The pages: sign-in by link, sign-out, the card page.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { csrfToken } from '@vault/web';
import { accountForToken, SignInUnavailable } from '../sign-in/tokens.ts';
import { cardOnFile } from '../cards/store.ts';
import { cardPage } from './pages/card.ts';
import { signedOutPage, signInRefusedPage, signInUnavailablePage, signInWithoutTokenPage, signOutPage } from './pages/notice.ts';
import type { WebContext } from './context.ts';

const SignInQuery = z.object({ token: z.string().min(1).max(512) });

export function pageRoutes(web: FastifyInstance, ctx: WebContext): void {
  const { pool, log } = ctx.deps;

  web.get('/', async (req, reply) => {
    if (await ctx.session.current(req)) return reply.redirect('/card', 303);
    return ctx.page(reply, 200, signedOutPage());
  });

  web.get('/signin', async (req, reply) => {
    const query = SignInQuery.safeParse(req.query);
    if (!query.success) return ctx.page(reply, 400, signInWithoutTokenPage());
    let accountId: string | undefined;
    try {
      accountId = await accountForToken(pool, query.data.token);
    } catch (err) {
      if (!(err instanceof SignInUnavailable)) throw err;
      log.error('web.signin_unavailable', undefined, { reason: 'no_invoicing_sign_in_tokens' });
      return ctx.page(reply, 503, signInUnavailablePage());
    }
    if (accountId === undefined) {
      log.warn('web.signin_refused', { reason: 'unknown_token' });
      return ctx.page(reply, 401, signInRefusedPage());
    }
    await ctx.session.signIn(req, reply, accountId);
    log.info('web.signin', { account_id: accountId });
    // 303 to a clean address: the token leaves the address bar and the history entry.
    return reply.redirect('/card', 303);
  });

  web.get('/signout', async (req, reply) => {
    const who = await ctx.session.current(req);
    if (!who) return reply.redirect('/', 303);
    return ctx.page(reply, 200, signOutPage(who.accountId, csrfToken(who.sessionId)));
  });

  web.post('/signout', async (req, reply) => {
    await ctx.session.signOut(req, reply);
    return reply.redirect('/', 303);
  });

  web.get('/card', async (req, reply) => {
    const who = await ctx.session.required(req, reply);
    if (!who) return reply;
    const card = await cardOnFile(pool, who.accountId);
    return ctx.page(
      reply,
      200,
      cardPage({
        accountId: who.accountId,
        csrf: csrfToken(who.sessionId),
        card,
        publishableKey: ctx.deps.publishableKey,
        gatewayJs: ctx.deps.gatewayJs,
      }),
    );
  });
}
