// The customer's web UI: server-rendered pages over a cookie session that a
// sign-in link opens once the customer confirms. Every route here declares
// `bearer: false`, so bearer tokens open none of them, and the session cookie
// reaches nothing else. Every state-changing request carries a CSRF token.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PeriodQuery } from '@vault/contracts';
import { parseQuery, queryError } from '@vault/runtime';
import {
  consumeSignInLink,
  CSRF_FIELD,
  csrfProblem,
  csrfToken,
  csrfValid,
  errorStatus,
  html,
  pageHeaders,
  sendPage as page,
  sessionCookie,
  signInLinkStatus,
  type SignedInSession,
} from '@vault/web';
import type { InvoicingDeps } from '../deps.ts';
import { SESSION_COOKIE, sessions } from '../access/sessions.ts';
import { parsePeriod, previousPeriod } from '../domain/period.ts';
import { STYLESHEET } from './assets.ts';
import { CONTENT_SECURITY_POLICY, type Viewer } from './html.ts';
import { invoicePage } from './pages/invoice.ts';
import { invoiceListPage } from './pages/invoices.ts';
import {
  badRequestPage,
  errorPage,
  forbiddenPage,
  noticePage,
  notFoundPage,
  signedOutPage,
  signInConfirmPage,
  signInRefusedPage,
  signInWithoutLinkPage,
} from './pages/notice.ts';
import { usagePage } from './pages/usage.ts';

/** `/signin?link=vl_…`: the link's secret (the form posts it back as `link`). */
const SignInLink = z.object({ link: z.string().min(1).max(512) });
const InvoiceParams = z.object({ id: z.string().min(1).max(200) });
const HEADERS = pageHeaders(CONTENT_SECURITY_POLICY);

export function webRoutes(http: FastifyInstance, deps: InvoicingDeps): void {
  const { pool, billing, log } = deps;
  const session = sessionCookie({ name: SESSION_COOKIE, sessions, pool });
  const viewerOf = (s: SignedInSession): Viewer => ({ accountId: s.accountId, csrf: csrfToken(s.sessionId) });
  /** Who is signed in, or undefined after a redirect to `/` (forgetting a cookie that names no live session). */
  const signedIn = async (req: FastifyRequest, reply: FastifyReply) => {
    const live = await session.required(req, reply);
    return live && viewerOf(live);
  };

  http.register(async (web) => {
    // These routes authenticate by cookie session, not bearer token.
    web.addHook('onRoute', (route) => {
      route.config = { ...route.config, bearer: false };
    });
    // The sign-in and sign-out forms post small urlencoded bodies.
    web.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 2048 }, (_req, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    web.addHook('onSend', async (_req, reply) => {
      for (const [name, value] of Object.entries(HEADERS)) {
        // The stylesheet keeps its own long cache; every page is no-store.
        if (name !== 'cache-control' || !reply.hasHeader(name)) reply.header(name, value);
      }
    });
    // Every state-changing request carries a CSRF token (the `_csrf` field or
    // X-CSRF-Token): the session's, or on the sign-in form this browser's
    // sign-in form token (there may be no session yet).
    web.addHook('preHandler', async (req, reply) => {
      const signingIn = req.routeOptions.url === '/signin';
      const problem = csrfProblem(req, (given) => (signingIn ? session.signInCsrfValid(req, given) : csrfValid(session.idOf(req), given)));
      if (problem === undefined) return;
      log.warn('web.csrf_refused', { method: req.method, path: req.routeOptions.url ?? 'unknown', token: problem });
      return page(reply, 403, forbiddenPage());
    });
    web.setErrorHandler(async (err: Error & { statusCode?: number }, _req, reply) => {
      const status = errorStatus(err);
      if (status >= 500) {
        log.error('web.error', err);
        return page(reply, 500, errorPage());
      }
      return page(reply, status, badRequestPage(err.message));
    });

    web.get(STYLESHEET.href, async (_req, reply) =>
      reply.type(STYLESHEET.type).header('cache-control', STYLESHEET.cacheControl).send(STYLESHEET.body),
    );

    web.get('/', async (req, reply) => {
      if (await session.current(req)) return reply.redirect('/invoices', 303);
      return page(reply, 200, signedOutPage());
    });

    // Opening a link only asks: it never signs in, and never changes the
    // session the browser has. Used, expired, revoked and unknown links get one
    // page asking for a new link.
    web.get('/signin', async (req, reply) => {
      const query = SignInLink.safeParse(req.query);
      if (!query.success) return page(reply, 400, signInWithoutLinkPage());
      const status = await signInLinkStatus(pool, query.data.link);
      if (status?.state !== 'valid') {
        log.warn('web.signin_refused', { reason: status?.state ?? 'unknown_link' });
        return page(reply, 401, signInRefusedPage());
      }
      const current = await session.current(req);
      const csrf = session.signInCsrf(req, reply);
      return page(
        reply,
        200,
        signInConfirmPage({ accountId: status.accountId, link: query.data.link, csrf, current: current && viewerOf(current) }),
      );
    });

    // The confirmation: the link is used up (once, atomically), then a fresh
    // session replaces whatever session the browser had.
    web.post('/signin', async (req, reply) => {
      const form = SignInLink.safeParse(req.body);
      if (!form.success) return page(reply, 400, signInWithoutLinkPage());
      const grant = await consumeSignInLink(pool, form.data.link);
      if (grant === undefined) {
        const status = await signInLinkStatus(pool, form.data.link);
        log.warn('web.signin_refused', { reason: status?.state ?? 'unknown_link' });
        return page(reply, 401, signInRefusedPage());
      }
      await session.signIn(req, reply, grant);
      log.info('web.signin', { account_id: grant.accountId, token_id: grant.tokenId });
      return reply.redirect('/invoices', 303);
    });

    web.get('/signout', async (req, reply) => {
      const viewer = await signedIn(req, reply);
      if (viewer === undefined) return reply;
      return page(
        reply,
        200,
        noticePage(
          'Sign out',
          html`<form method="post" action="/signout"><input type="hidden" name="${CSRF_FIELD}" value="${viewer.csrf}"><button type="submit">Sign out of ${viewer.accountId}</button></form>`,
          viewer,
        ),
      );
    });

    web.post('/signout', async (req, reply) => {
      await session.signOut(req, reply);
      return reply.redirect('/', 303);
    });

    web.get('/invoices', async (req, reply) => {
      const viewer = await signedIn(req, reply);
      if (viewer === undefined) return reply;
      const [invoices, balance] = await Promise.all([billing.invoices(viewer.accountId), billing.balance(viewer.accountId)]);
      return page(reply, 200, invoiceListPage(viewer, invoices, balance));
    });

    web.get('/invoices/:id', async (req, reply) => {
      const viewer = await signedIn(req, reply);
      if (viewer === undefined) return reply;
      const params = InvoiceParams.safeParse(req.params);
      const invoice = params.success ? await billing.invoice(params.data.id) : undefined;
      // Another account's invoice is as absent as one that does not exist.
      if (!invoice || invoice.account_id !== viewer.accountId) return page(reply, 404, notFoundPage(viewer));
      return page(reply, 200, invoicePage(viewer, invoice));
    });

    web.get('/usage', async (req, reply) => {
      const viewer = await signedIn(req, reply);
      if (viewer === undefined) return reply;
      const account = viewer.accountId;
      const query = parseQuery(PeriodQuery, req.query);
      if (!query.success) {
        const why = queryError(query.error)
          .fields.map((f) => `${f.field || 'query'}: ${f.message}`)
          .join('; ');
        return page(reply, 400, badRequestPage(`Invalid address: ${why}.`, viewer));
      }
      const current = billing.currentPeriod();
      const period = query.data.period ?? current;
      if (period > current) {
        return page(reply, 400, badRequestPage(`${period} has not started yet.`, viewer));
      }
      const isCurrent = period === current;
      const [draft, days, projection] = await Promise.all([
        billing.draft(account, period),
        billing.usagePerDay(account, period),
        isCurrent ? billing.projection(account) : undefined,
      ]);
      const previous = previousPeriod(parsePeriod(draft.period)).key;
      return page(reply, 200, usagePage({ viewer, draft, days, projection, previous, isCurrent }));
    });
  });
}
