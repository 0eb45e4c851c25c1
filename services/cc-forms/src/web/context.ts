// What every cc-forms route shares: the security headers, the CSRF check on
// every state-changing request, the session lookup, and errors as pages (or
// JSON for the card form's script).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  csrfProblem,
  csrfValid,
  errorStatus,
  pageErrorMessage,
  pageHeaders,
  sendPage,
  sessionCookie,
  SignInUnavailable,
  signOutWithoutSession,
  type Html,
  type NoticePages,
  type SessionCookie,
  type SessionGrant,
} from '@vault/web';
import { databaseBusy, useBusyJson } from '@vault/runtime';
import type { CcFormsDeps } from '../deps.ts';
import { GatewayUnavailable } from '../cards/gateway.ts';
import { openedByLink, SESSION_COOKIE, sessions, signInWithLink } from '../sign-in/sessions.ts';
import { cardFormCsp } from './csp.ts';
import { ccFormsNotices } from './pages/notice.ts';
import { DATABASE_BUSY_MESSAGE, DATABASE_OUTCOME_UNKNOWN_MESSAGE } from '../domain/messages.ts';

export interface WebContext {
  deps: CcFormsDeps;
  /** The request's cookie session: who is signed in, sign-in, sign-out. */
  session: SessionCookie;
  page(reply: FastifyReply, status: number, body: Html): FastifyReply;
  /** The short pages (sign-in, refusals, errors) in this app's layout. */
  notices: NoticePages;
  /** The request carries the live session that this sign-in link opened (a used link, back in the browser it signed in). */
  signedInBy(req: FastifyRequest, link: string | undefined): Promise<boolean>;
  /**
   * Uses the sign-in link up and opens its session in one transaction (sign-in/sessions.ts), then sets
   * the cookies: none when it fails, so the sign-in form's token survives for a retry. Undefined when
   * the link opens nothing.
   */
  signInWithLink(req: FastifyRequest, reply: FastifyReply, link: string): Promise<SessionGrant | undefined>;
  /** The card form script's error shape: `{error: {code, message}}`. */
  jsonError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply;
}

/** The pages' scripts post JSON to /card… and /payments/…; forms post urlencoded bodies and get pages back. */
const wantsJson = (req: FastifyRequest) =>
  (req.headers['content-type'] ?? '').startsWith('application/json') ||
  (req.method === 'POST' && /^\/(card|payments)(\/|\?|$)/.test(req.url));

export function webContext(web: FastifyInstance, deps: CcFormsDeps): WebContext {
  const { pool, log } = deps;
  const headers = pageHeaders(cardFormCsp(deps.gatewayOrigins));

  const ctx: WebContext = {
    deps,
    // An https CC_FORMS_URL makes the cookies Secure even when TLS ends at a proxy left untrusted.
    session: sessionCookie({ name: SESSION_COOKIE, sessions, pool, publicUrl: deps.ccFormsUrl }),
    page: sendPage,
    notices: ccFormsNotices(deps.invoicingWebUrl),
    jsonError: (reply, status, code, message) => reply.code(status).send({ error: { code, message } }),
    async signInWithLink(req, reply, link) {
      let cookies: [string, string][] = [];
      const grant = await signInWithLink(pool, link, async (db, granted) => {
        // Run again from the start after a deadlock: only the last run's cookies.
        cookies = [];
        const held = { header: (name: string, value: string) => cookies.push([name, value]), redirect: () => undefined };
        await sessionCookie({ name: SESSION_COOKIE, sessions, pool: db, publicUrl: deps.ccFormsUrl }).signIn(req, held, granted);
      });
      for (const [name, value] of cookies) reply.header(name, value);
      return grant;
    },
    async signedInBy(req, link) {
      const who = link === undefined ? undefined : await ctx.session.current(req);
      return who !== undefined && link !== undefined && (await openedByLink(pool, who.sessionId, link));
    },
  };

  // The sign-in and sign-out forms post small urlencoded bodies.
  web.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  // The database unable to answer now is runtime's 503 with Retry-After (http.ts, logged there); the
  // card form's script reads its error in this app's shape, with words for the customer.
  web.addHook('onRequest', async (req) =>
    useBusyJson(req, (outcome) => ({
      error: {
        code: 'database_busy',
        message: outcome === 'unchanged' ? DATABASE_BUSY_MESSAGE : DATABASE_OUTCOME_UNKNOWN_MESSAGE,
      },
    })),
  );

  web.addHook('onSend', async (_req, reply) => {
    for (const [name, value] of Object.entries(headers)) {
      // The icon keeps its own cache; every page is no-store.
      if (name !== 'cache-control' || !reply.hasHeader(name)) reply.header(name, value);
    }
  });

  // Every state-changing request carries a CSRF token: the X-CSRF-Token
  // header (page script) or the _csrf field (forms); the session's, or on the
  // sign-in form this browser's sign-in form token (there may be no session yet).
  web.addHook('preHandler', async (req, reply) => {
    // An address that is no route changes nothing: its 404, not a form refused (a scanner's POST warns nothing).
    if (req.routeOptions.url === undefined) return;
    const signingIn = req.routeOptions.url === '/signin';
    const problem = csrfProblem(req, (given) =>
      signingIn ? ctx.session.signInCsrfValid(req, given) : csrfValid(ctx.session.idOf(req), given),
    );
    if (problem === undefined) return;
    // Sign out from a page whose session is over needs no token: there is nothing left to protect
    // (and nothing of invoicing's is ended: that takes this session's token).
    if (req.routeOptions.url === '/signout' && req.method === 'POST' && (await signOutWithoutSession(ctx.session, req, reply)))
      return reply;
    // The sign-in form posted again after the first answer by the browser that link signed in (Back,
    // then submit again; a fast double click's second post has no session yet and stays refused): signing in
    // cleared its form token, and the answer is only a redirect within the session it has
    // (web/routes.ts), so the missing token costs nothing. Any other post stays refused.
    const link = (req.body as { link?: unknown } | undefined)?.link;
    if (signingIn && typeof link === 'string' && (await ctx.signedInBy(req, link))) return;
    log.warn('web.csrf_refused', { method: req.method, path: req.routeOptions.url, token: problem });
    if (wantsJson(req)) {
      return ctx.jsonError(
        reply,
        403,
        'csrf',
        'This page has expired: its security token is missing or wrong. Please reload the page and try again.',
      );
    }
    return ctx.page(reply, 403, ctx.notices.forbidden());
  });

  web.setNotFoundHandler(async (req, reply) =>
    wantsJson(req) ? ctx.jsonError(reply, 404, 'not_found', 'No such address.') : ctx.page(reply, 404, ctx.notices.notFound()),
  );

  web.setErrorHandler(async (err: Error & { statusCode?: number }, req, reply) => {
    // A session looked up before invoicing published its sign-in names (an upgrade in progress).
    if (err instanceof SignInUnavailable) {
      log.warn('web.signin_unavailable', { path: req.routeOptions.url ?? '' });
      return wantsJson(req)
        ? ctx.jsonError(reply, 503, 'sign_in_unavailable', 'Signing in is not available yet: please try again in a moment.')
        : ctx.page(reply, 503, ctx.notices.signInUnavailable());
    }
    if (err instanceof GatewayUnavailable) {
      log.error('gateway.error', undefined, { error_class: err.errorClass, code: err.code, request_id: err.requestId, ...err.unreachable });
      const message = 'The payment gateway is not answering. Nothing was saved: please try again in a moment.';
      return wantsJson(req) ? ctx.jsonError(reply, 502, 'gateway_unavailable', message) : ctx.page(reply, 502, ctx.notices.error());
    }
    // The database unable to answer now (a statement stopped at DATABASE_STATEMENT_TIMEOUT_MS, no
    // session to be had, the session ended by the server): the app's 503 with Retry-After (http.ts),
    // a page to a browser, this app's JSON shape to the script (the onRequest hook above).
    if (databaseBusy(err)) throw err;
    const status = errorStatus(err);
    if (status >= 500) {
      log.error('web.error', err);
      return wantsJson(req)
        ? ctx.jsonError(reply, 500, 'internal', 'Something went wrong. Nothing was saved: please try again.')
        : ctx.page(reply, 500, ctx.notices.error());
    }
    return wantsJson(req)
      ? ctx.jsonError(reply, status, 'bad_request', err.message)
      : ctx.page(reply, status, ctx.notices.badRequest(pageErrorMessage(err)));
  });

  return ctx;
}
