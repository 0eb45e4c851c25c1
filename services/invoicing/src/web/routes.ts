// The customer's web UI: server-rendered pages over a cookie session that a
// sign-in link opens. Every route here declares `bearer: false`, so bearer
// tokens open none of them, and the session cookie reaches nothing else.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PeriodQuery } from '@vault/contracts';
import { parseQuery, queryError } from '@vault/runtime';
import { errorStatus, html, pageHeaders, sendPage as page, sessionCookie } from '@vault/web';
import type { InvoicingDeps } from '../deps.ts';
import { SESSION_COOKIE, sessions } from '../access/sessions.ts';
import { invoicingVerifier } from '../access/tokens.ts';
import { parsePeriod, previousPeriod } from '../domain/period.ts';
import { CONTENT_SECURITY_POLICY } from './html.ts';
import { invoicePage } from './pages/invoice.ts';
import { invoiceListPage } from './pages/invoices.ts';
import { badRequestPage, errorPage, noticePage, notFoundPage, signedOutPage, signInRefusedPage } from './pages/notice.ts';
import { usagePage } from './pages/usage.ts';

const SignInQuery = z.object({ token: z.string().min(1).max(512) });
const InvoiceParams = z.object({ id: z.string().min(1).max(200) });
const HEADERS = pageHeaders(CONTENT_SECURITY_POLICY);

export function webRoutes(http: FastifyInstance, deps: InvoicingDeps): void {
  const { pool, billing, log } = deps;
  const verify = invoicingVerifier(pool, deps.adminToken);
  const session = sessionCookie({ name: SESSION_COOKIE, sessions, pool });
  /** The signed-in account, or undefined after a redirect to `/` (forgetting a cookie that names no live session). */
  const signedIn = async (req: FastifyRequest, reply: FastifyReply) => (await session.required(req, reply))?.accountId;

  http.register(async (web) => {
    // These routes authenticate by cookie session, not bearer token.
    web.addHook('onRoute', (route) => {
      route.config = { ...route.config, bearer: false };
    });
    // The sign-out form posts an empty urlencoded body.
    web.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_req, body, done) =>
      done(null, body),
    );
    web.addHook('onSend', async (_req, reply) => {
      reply.headers(HEADERS);
    });
    web.setErrorHandler(async (err: Error & { statusCode?: number }, _req, reply) => {
      const status = errorStatus(err);
      if (status >= 500) {
        log.error('web.error', err);
        return page(reply, 500, errorPage());
      }
      return page(reply, status, badRequestPage(err.message));
    });

    web.get('/', async (req, reply) => {
      if (await session.current(req)) return reply.redirect('/invoices', 303);
      return page(reply, 200, signedOutPage());
    });

    web.get('/signin', async (req, reply) => {
      const query = SignInQuery.safeParse(req.query);
      if (!query.success) {
        return page(
          reply,
          400,
          noticePage('Cannot sign in', html`<p>This sign-in link has no token.</p><p><a href="/">How to sign in</a></p>`),
        );
      }
      const principal = await verify(query.data.token);
      if (principal?.kind !== 'account') {
        log.warn('web.signin_refused', { reason: principal ? `${principal.kind}_token` : 'unknown_token' });
        return page(reply, 401, signInRefusedPage(principal ? 'not-an-account' : 'unknown'));
      }
      await session.signIn(req, reply, principal.accountId);
      log.info('web.signin', { account_id: principal.accountId });
      // 303 to a clean address: the token leaves the address bar and the history entry.
      return reply.redirect('/invoices', 303);
    });

    web.get('/signout', async (req, reply) => {
      const account = await signedIn(req, reply);
      if (account === undefined) return reply;
      return page(
        reply,
        200,
        noticePage(
          'Sign out',
          html`<form method="post" action="/signout"><button type="submit">Sign out of ${account}</button></form>`,
          account,
        ),
      );
    });

    web.post('/signout', async (req, reply) => {
      await session.signOut(req, reply);
      return reply.redirect('/', 303);
    });

    web.get('/invoices', async (req, reply) => {
      const account = await signedIn(req, reply);
      if (account === undefined) return reply;
      const invoices = await billing.invoices(account);
      return page(reply, 200, invoiceListPage(account, invoices));
    });

    web.get('/invoices/:id', async (req, reply) => {
      const account = await signedIn(req, reply);
      if (account === undefined) return reply;
      const params = InvoiceParams.safeParse(req.params);
      const invoice = params.success ? await billing.invoice(params.data.id) : undefined;
      // Another account's invoice is as absent as one that does not exist.
      if (!invoice || invoice.account_id !== account) return page(reply, 404, notFoundPage(account));
      return page(reply, 200, invoicePage(account, invoice));
    });

    web.get('/usage', async (req, reply) => {
      const account = await signedIn(req, reply);
      if (account === undefined) return reply;
      const query = parseQuery(PeriodQuery, req.query);
      if (!query.success) {
        const why = queryError(query.error)
          .fields.map((f) => `${f.field || 'query'}: ${f.message}`)
          .join('; ');
        return page(reply, 400, badRequestPage(`Invalid address: ${why}.`, account));
      }
      const current = billing.currentPeriod();
      const period = query.data.period ?? current;
      if (period > current) {
        return page(reply, 400, badRequestPage(`${period} has not started yet.`, account));
      }
      const isCurrent = period === current;
      const [draft, days, projection] = await Promise.all([
        billing.draft(account, period),
        billing.usagePerDay(account, period),
        isCurrent ? billing.projection(account) : undefined,
      ]);
      const previous = previousPeriod(parsePeriod(draft.period)).key;
      return page(reply, 200, usagePage({ accountId: account, draft, days, projection, previous, isCurrent }));
    });
  });
}
