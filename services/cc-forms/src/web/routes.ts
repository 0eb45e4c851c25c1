// The pages: sign-in by link (a confirmation page, then a POST), sign-out, the
// card page, and the page that authenticates and pays an invoice.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { CARD_FORM_PAGE, csrfToken, html, SignInUnavailable, signInLinkStatus } from '@vault/web';
import { cardOnFile } from '../cards/store.ts';
import { accountPayment, PAYMENT_INTENT_ID } from '../payments/service.ts';
import { cardPage } from './pages/card.ts';
import { payPage } from './pages/pay.ts';
import { consumeIntoSession, endHandOverParents, SIGN_IN_APP } from '../sign-in/sessions.ts';
import type { WebContext } from './context.ts';

/**
 * `/signin?link=vl_…[&next=/payments/pi_…]`: the link's secret (the form posts it back as
 * `link`), and where to go once signed in: the invoice pages hand a customer over with a
 * fresh link and the page they asked for.
 */
const SignInLink = z.object({ link: z.string().min(1).max(512), next: z.string().max(300).optional() });

/** A page of this app to land on after sign-in; anything else is /card (never another site). */
const landing = (next: string | undefined) => (next !== undefined && CARD_FORM_PAGE.test(next) ? next : '/card');

export function pageRoutes(web: FastifyInstance, ctx: WebContext): void {
  const { pool, log } = ctx.deps;
  const { notices } = ctx;
  const invoicesUrl = ctx.deps.invoicingWebUrl;

  /** Invoicing's published sign-in names missing (never migrated here): a 503 page, logged. */
  const unavailable = (reply: FastifyReply) => {
    log.error('web.signin_unavailable', undefined, { reason: 'no_invoicing_sign_in_links' });
    return ctx.page(reply, 503, notices.signInUnavailable());
  };
  const refused = async (reply: FastifyReply, link: string) => {
    const status = await signInLinkStatus(pool, link, SIGN_IN_APP);
    log.warn('web.signin_refused', { reason: status?.state ?? 'unknown_link' });
    return ctx.page(reply, 401, notices.signInRefused());
  };

  /** What another site's navigation to /payments/:id gets: the button's GET comes from this site. */
  const continueToPayment = (id: string, viewer: { accountId: string; csrf: string }) =>
    notices.notice(
      'Continue to your payment',
      html`<p>You arrived here from another site. To see this payment and pay it, press the button.</p>
<form method="get" action="/payments/${id}"><button type="submit" class="primary">Continue to the payment</button></form>`,
      viewer,
    );

  web.get('/', async (req, reply) => {
    if (await ctx.session.current(req)) return reply.redirect('/card', 303);
    return ctx.page(reply, 200, notices.signedOut());
  });

  // Opening a link only asks: it never signs in, and never changes the session
  // the browser has. Used, expired, revoked and unknown links get one page
  // asking for a new link.
  web.get('/signin', async (req, reply) => {
    const query = SignInLink.safeParse(req.query);
    if (!query.success) return ctx.page(reply, 400, notices.signInWithoutLink());
    try {
      const status = await signInLinkStatus(pool, query.data.link, SIGN_IN_APP);
      const next = query.data.next === undefined ? undefined : landing(query.data.next);
      if (status?.state !== 'valid') {
        // Back to a link this browser signed in with: its page, in the session that link opened
        // (no other session, and none is opened: without it the link is refused as ever).
        if (await ctx.signedInBy(req, query.data.link)) return reply.redirect(next ?? '/card', 303);
        return await refused(reply, query.data.link);
      }
      const current = await ctx.session.current(req);
      // Handed over from the invoice pages while already signed in here as that account: straight
      // on, in the session the browser has. The link is used up all the same: it has travelled in
      // an address. Another account, or none, is asked as ever.
      if (next !== undefined && current?.accountId === status.accountId) {
        // Recorded against the session: its sign-out ends the invoice pages' session that made this link too.
        if (!(await consumeIntoSession(pool, current.sessionId, query.data.link))) return await refused(reply, query.data.link);
        return reply.redirect(next, 303);
      }
      const csrf = ctx.session.signInCsrf(req, reply);
      return ctx.page(
        reply,
        200,
        notices.signInConfirm({
          accountId: status.accountId,
          link: query.data.link,
          csrf,
          current: current && { accountId: current.accountId, csrf: csrfToken(current.sessionId) },
          next,
        }),
      );
    } catch (err) {
      if (err instanceof SignInUnavailable) return unavailable(reply);
      throw err;
    }
  });

  // The confirmation: the link is used up (once, atomically, through
  // invoicing.consume_sign_in_link) and a fresh session replaces whatever
  // session the browser had, in one transaction.
  web.post('/signin', async (req, reply) => {
    const form = SignInLink.safeParse(req.body);
    if (!form.success) return ctx.page(reply, 400, notices.signInWithoutLink());
    try {
      // Posted again after the first answer by the browser this link signed in (Back, then submit again):
      // on to its page, in that session, rather than a refusal. The link is used: nothing to consume.
      if (await ctx.signedInBy(req, form.data.link)) return reply.redirect(landing(form.data.next), 303);
      // The link's use and the new session commit together: a sign-in stopped on its way leaves the link usable.
      const grant = await ctx.signInWithLink(req, reply, form.data.link);
      if (grant === undefined) return await refused(reply, form.data.link);
      log.info('web.signin', { account_id: grant.accountId, token_id: grant.tokenId });
      return reply.redirect(landing(form.data.next), 303);
    } catch (err) {
      if (err instanceof SignInUnavailable) return unavailable(reply);
      throw err;
    }
  });

  web.get('/signout', async (req, reply) => {
    const who = await ctx.session.current(req);
    if (!who) return reply.redirect('/', 303);
    return ctx.page(reply, 200, notices.signOut({ accountId: who.accountId, csrf: csrfToken(who.sessionId) }));
  });

  // Also ends every invoice pages' session that handed over into this one (on a shared computer any
  // could open the card form again). Invoicing not migrated yet: this session still ends, logged.
  web.post('/signout', async (req, reply) => {
    try {
      const ended = await endHandOverParents(pool, ctx.session.idOf(req));
      if (ended > 0) log.info('web.signout_hand_over', { sessions_ended: ended });
    } catch (err) {
      if (!(err instanceof SignInUnavailable)) throw err;
      log.error('web.signout_hand_over_unavailable', undefined, { reason: 'no_invoicing_end_hand_over_parent' });
    }
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
        invoicesUrl,
      }),
    );
  });

  // An invoice's payment the bank wants the cardholder to confirm: the
  // invoice page links here with its PaymentIntent. Another account's (or an
  // unknown) intent is the same 404; past the account's gateway lookups, a 429 page.
  web.get('/payments/:id', async (req, reply) => {
    const who = await ctx.session.required(req, reply);
    if (!who) return reply;
    const id = (req.params as { id?: string }).id ?? '';
    const csrf = csrfToken(who.sessionId);
    const viewer = { accountId: who.accountId, csrf };
    // Another site navigating a signed-in browser here (the cookie is SameSite=Lax) must not spend
    // the account's gateway lookups: no lookup, a page whose button comes from this site. The hand-over
    // from invoice pages on another site arrives so too when already signed in here (a redirect chain
    // started there): one more press. Typed, bookmarked, or after the sign-in button: never cross-site.
    if (req.headers['sec-fetch-site'] === 'cross-site' && PAYMENT_INTENT_ID.test(id)) {
      log.warn('web.payment_cross_site', { account_id: who.accountId });
      return ctx.page(reply, 200, continueToPayment(id, viewer));
    }
    const found = await accountPayment(ctx.deps, who.accountId, id);
    if (found.kind === 'rate_limited') {
      reply.header('retry-after', String(found.retryAfterSeconds));
      return ctx.page(reply, 429, notices.notice('Please wait a moment', html`<p>${found.message}</p>`, viewer));
    }
    if (found.kind !== 'found') return ctx.page(reply, 404, notices.notFound(viewer));
    const { payment } = found;
    return ctx.page(
      reply,
      200,
      payPage({
        accountId: who.accountId,
        csrf,
        payment,
        publishableKey: ctx.deps.publishableKey,
        gatewayJs: ctx.deps.gatewayJs,
        invoicesUrl,
      }),
    );
  });
}
