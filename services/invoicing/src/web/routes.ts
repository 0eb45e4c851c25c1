// The customer's web UI: server-rendered pages over a cookie session that a
// sign-in link opens once the customer confirms. Every route here declares
// `bearer: false`, so bearer tokens open none of them, and the session cookie
// reaches nothing else. Every state-changing request carries a CSRF token.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PERIOD_KEY_PATTERN, PeriodQuery } from '@vault/contracts';
import { databaseBusy, parseQuery, queryError } from '@vault/runtime';
import {
  CARD_FORM_PAGE,
  csrfProblem,
  csrfToken,
  csrfValid,
  errorStatus,
  FAVICON,
  pageErrorMessage,
  pageHeaders,
  sendPage as page,
  sessionCookie,
  signOutWithoutSession,
  type SignedInSession,
} from '@vault/web';
import type { InvoicingDeps } from '../deps.ts';
import { SESSION_COOKIE, sessions } from '../access/sessions.ts';
import { createHandOverLink, signInUrl } from '../access/sign-in-links.ts';
import { parsePeriod, previousPeriod } from '../domain/period.ts';
import { STYLESHEET } from './assets.ts';
import { CONTENT_SECURITY_POLICY, type Viewer } from './html.ts';
import { invoicePage } from './pages/invoice.ts';
import { invoiceListPage } from './pages/invoices.ts';
import { invoiceSummaries } from '../billing/invoice-list.ts';
import { notices, tooManyHandOvers } from './pages/notice.ts';
import { usagePage } from './pages/usage.ts';
import { chargebacksOf } from '../charging/disputes.ts';
import { readPaymentStates } from '../charging/payment-state.ts';
import { signInRoutes } from './sign-in-routes.ts';
import { stopDates } from './stops.ts';
import { creditOutlook } from './credit-outlook.ts';
import { nextInvoicePeriod } from './next-invoice.ts';
import { DEFAULT_GRACE_HOURS } from '../config.ts';

const InvoiceParams = z.object({ id: z.string().min(1).max(200) });
/** `/card-form?to=card` or `?to=payments/<PaymentIntent id>`: the card form's page to hand over to. */
const CardFormTarget = z.object({ to: z.string().refine((to) => CARD_FORM_PAGE.test(`/${to}`)) });
const HEADERS = pageHeaders(CONTENT_SECURITY_POLICY);
/** The card form's address when none is configured (route tests): its development default. */
const DEFAULT_CC_FORMS_URL = 'http://localhost:3002';

export function webRoutes(http: FastifyInstance, deps: InvoicingDeps): void {
  const { pool, billing, log } = deps;
  const ccFormsUrl = deps.ccFormsUrl ?? DEFAULT_CC_FORMS_URL;
  /** INVOICE_GRACE_HOURS, as billing and the exports have it (main.ts hands it to the exports; unset in route tests: 72). */
  const graceHours = deps.exports?.graceHours ?? DEFAULT_GRACE_HOURS;
  // An https INVOICING_WEB_URL makes the cookies Secure even when TLS ends at a proxy left untrusted.
  const session = sessionCookie({ name: SESSION_COOKIE, sessions, pool, publicUrl: deps.invoicingWebUrl });
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
        // The stylesheet and the icon keep their own cache; every page is no-store.
        if (name !== 'cache-control' || !reply.hasHeader(name)) reply.header(name, value);
      }
    });
    // Every state-changing request carries a CSRF token (the `_csrf` field or
    // X-CSRF-Token): the session's, or on the sign-in form this browser's
    // sign-in form token (there may be no session yet).
    web.addHook('preHandler', async (req, reply) => {
      // An address that is no route changes nothing: its 404, not a form refused (the API's typos too).
      if (req.routeOptions.url === undefined) return;
      const signingIn = req.routeOptions.url === '/signin';
      const problem = csrfProblem(req, (given) => (signingIn ? session.signInCsrfValid(req, given) : csrfValid(session.idOf(req), given)));
      if (problem === undefined) return;
      // Sign out from a page whose session is over needs no token: there is nothing left to protect.
      if (req.routeOptions.url === '/signout' && req.method === 'POST' && (await signOutWithoutSession(session, req, reply))) return reply;
      log.warn('web.csrf_refused', { method: req.method, path: req.routeOptions.url ?? 'unknown', token: problem });
      return page(reply, 403, notices.forbidden());
    });
    // Every address that is no route, the API's too (requireBearer lets one without credentials
    // through): a browser gets the 404 page, with its header when signed in; anything else JSON.
    web.setNotFoundHandler(async (req, reply) => {
      if (!(req.headers.accept ?? '').includes('text/html')) return reply.code(404).send({ error: 'not found' });
      const live = await session.current(req);
      return page(reply, 404, notices.notFound(live && viewerOf(live)));
    });
    web.setErrorHandler(async (err: Error & { statusCode?: number }, _req, reply) => {
      // The database unable to answer now (a statement stopped at DATABASE_STATEMENT_TIMEOUT_MS, no
      // session to be had, the session ended by the server): the app's 503 with Retry-After (http.ts), a page to a browser.
      if (databaseBusy(err)) throw err;
      const status = errorStatus(err);
      if (status >= 500) {
        log.error('web.error', err);
        return page(reply, 500, notices.error());
      }
      return page(reply, status, notices.badRequest(pageErrorMessage(err)));
    });

    web.get(STYLESHEET.href, async (_req, reply) =>
      reply.type(STYLESHEET.type).header('cache-control', STYLESHEET.cacheControl).send(STYLESHEET.body),
    );
    web.get(FAVICON.path, async (_req, reply) => reply.type(FAVICON.type).header('cache-control', FAVICON.cacheControl).send(FAVICON.body));

    signInRoutes(web, { pool, log, session, viewerOf, publicUrl: deps.invoicingWebUrl });

    web.get('/invoices', async (req, reply) => {
      const viewer = await signedIn(req, reply);
      if (viewer === undefined) return reply;
      const [invoices, balance, lots] = await Promise.all([
        // Invoice columns only: the list shows number, period, status and total, never a line.
        invoiceSummaries(pool, viewer.accountId),
        billing.balance(viewer.accountId),
        billing.balanceLots(viewer.accountId),
      ]);
      const [payments, next] = await Promise.all([
        readPaymentStates(pool, invoices),
        // The credit is judged against the invoice finalized next: in the grace period the month
        // before's (next-invoice.ts), read only when there is credit to speak of.
        lots.length === 0 ? billing.currentPeriod() : nextInvoicePeriod(billing, viewer.accountId, invoices),
      ]);
      const outlook = creditOutlook(lots, next, graceHours);
      return page(reply, 200, invoiceListPage({ viewer, invoices, balance, outlook, payments }));
    });

    web.get('/invoices/:id', async (req, reply) => {
      const viewer = await signedIn(req, reply);
      if (viewer === undefined) return reply;
      const params = InvoiceParams.safeParse(req.params);
      const invoice = params.success ? await billing.invoice(params.data.id) : undefined;
      // Another account's invoice is as absent as one that does not exist.
      if (!invoice || invoice.account_id !== viewer.accountId) return page(reply, 404, notices.notFound(viewer));
      const [payments, stops, chargebacks] = await Promise.all([
        readPaymentStates(pool, [invoice]),
        stopDates(pool, viewer.accountId, invoice.lines),
        chargebacksOf(pool, invoice.id),
      ]);
      return page(reply, 200, invoicePage({ viewer, invoice, payment: payments.get(invoice.id)!, stops, chargebacks }));
    });

    // The card form has sessions of its own, and a sign-in link works once, in one app: a
    // fresh link for cc-forms alone, made from this session, takes the customer there signed
    // in, to the page asked for (the card form checks it again; it only allows its own pages).
    // That session ends when this one does; a session's unused links are limited.
    web.get('/card-form', async (req, reply) => {
      const live = await session.required(req, reply);
      if (!live) return reply;
      // Only our own pages link here. Another site navigating a signed-in browser here (the
      // session cookie is SameSite=Lax) would make links for nothing, up to the session's limit.
      if (req.headers['sec-fetch-site'] === 'cross-site') {
        log.warn('web.card_form_cross_site', { account_id: live.accountId });
        return reply.redirect('/invoices', 303);
      }
      const query = CardFormTarget.safeParse(req.query);
      if (!query.success)
        return page(reply, 400, notices.badRequest('Invalid address: to: must be card or payments/<id>.', viewerOf(live)));
      // The session's own token (still live: the same check as every page's).
      const grant = await sessions.signedIn(pool, live.sessionId);
      if (grant === undefined) return reply.redirect('/', 303);
      const made = await createHandOverLink(pool, { ...grant, sessionId: live.sessionId }, 'cc-forms');
      if ('refused' in made) {
        if (made.refused === 'ended') return reply.redirect('/', 303);
        log.warn('web.card_form_handoff_limited', { account_id: live.accountId, retry_after_s: made.retryAfterSeconds });
        reply.header('retry-after', String(made.retryAfterSeconds));
        return page(reply, 429, tooManyHandOvers(viewerOf(live)));
      }
      log.info('web.card_form_handoff', { account_id: live.accountId, to: query.data.to.split('/')[0]! });
      return reply.redirect(signInUrl(ccFormsUrl, made.secret, `/${query.data.to}`), 303);
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
        return page(reply, 400, notices.badRequest(`Invalid address: ${why}.`, viewer));
      }
      const current = billing.currentPeriod();
      const period = query.data.period ?? current;
      if (period > current) {
        return page(reply, 400, notices.badRequest(`${period} has not started yet.`, viewer));
      }
      const isCurrent = period === current;
      const { draft, days, projection, archived } = await billing.usageView(account, period);
      // A finalized month's payment (none read for a draft): its tag is the invoice page's.
      const [stops, payments] = await Promise.all([stopDates(pool, account, draft.lines), readPaymentStates(pool, [draft])]);
      // None before 0001-01: the month before it ("0000-12") is no period a page can show.
      const before = previousPeriod(parsePeriod(draft.period)).key;
      const previous = PERIOD_KEY_PATTERN.test(before) ? before : undefined;
      const payment = payments.get(draft.id);
      return page(reply, 200, usagePage({ viewer, draft, days, projection, previous, isCurrent, stops, archived, payment }));
    });
  });
}
