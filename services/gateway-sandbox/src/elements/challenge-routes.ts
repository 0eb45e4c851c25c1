// The 3-D Secure challenge pages (GET /3d_secure/:id) and their two buttons
// (POST …/complete, …/fail). The random id is the only credential, as in
// Stripe's hooks URLs: whoever was handed the next_action may authenticate.
// Each ends its authentication once: a second click shows how it ended.
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { SandboxDeps } from '../deps.ts';
import { inTransaction, type Tx } from '../store/transaction.ts';
import { findAuthentication, settleAuthentication, type AuthenticationRow } from '../resources/authentications.ts';
import { finishPaymentAuthentication, paymentIntents } from '../resources/payment-intents.ts';
import { paymentMethods } from '../resources/payment-methods.ts';
import { finishSetupAuthentication, setupIntents } from '../resources/setup-intents.ts';
import { challengeCsp, challengePage, finishedPage, shownAmount } from './challenge-page.ts';

const file = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
const CHALLENGE_JS = file('challenge.js');
const CHALLENGE_CSS = file('challenge.css');

type Outcome = 'succeeded' | 'failed' | 'abandoned';

function htmlReply(reply: FastifyReply, csp: string, status: number, body: string) {
  return reply
    .code(status)
    .header('content-security-policy', csp)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .type(status === 200 ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8')
    .send(body);
}

/** What the page says is being authenticated, and the card's last 4. */
async function describe(tx: Tx, auth: AuthenticationRow): Promise<{ what: string; last4: string }> {
  const intent = auth.payment_intent
    ? await paymentIntents.require(tx.q, auth.payment_intent)
    : await setupIntents.require(tx.q, auth.setup_intent!);
  const pm = intent.payment_method ? await paymentMethods.find(tx.q, intent.payment_method) : undefined;
  const what =
    'amount' in intent ? `a payment of ${shownAmount(Number(intent.amount), intent.currency)}` : 'saving the card for later payments';
  return { what, last4: pm?.last4 ?? '····' };
}

/** The merchant's return_url with Stripe's query parameters saying how it went. */
async function returnTo(tx: Tx, auth: AuthenticationRow, outcome: Outcome): Promise<string> {
  const url = new URL(auth.return_url!);
  if (auth.payment_intent) {
    const pi = await paymentIntents.require(tx.q, auth.payment_intent);
    url.searchParams.set('payment_intent', pi.id);
    url.searchParams.set('payment_intent_client_secret', pi.client_secret);
  } else {
    const si = await setupIntents.require(tx.q, auth.setup_intent!);
    url.searchParams.set('setup_intent', si.id);
    url.searchParams.set('setup_intent_client_secret', si.client_secret);
  }
  url.searchParams.set('redirect_status', outcome === 'succeeded' ? 'succeeded' : 'failed');
  return url.toString();
}

/** Ends a pending authentication: the intent charged/saved, or back to requires_payment_method. */
async function finish(tx: Tx, auth: AuthenticationRow, passed: boolean): Promise<Outcome> {
  if (auth.status !== 'pending') return auth.status;
  const finished = auth.payment_intent
    ? await finishPaymentAuthentication(tx, auth.payment_intent, passed)
    : await finishSetupAuthentication(tx, auth.setup_intent!, passed);
  const outcome: Outcome = !finished ? 'abandoned' : passed ? 'succeeded' : 'failed';
  await settleAuthentication(tx, auth.id, outcome);
  return outcome;
}

const NOT_FOUND = 'This 3D Secure authentication does not exist.';

export function challengeRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  const asset = (type: string, body: string) => async (_req: unknown, reply: FastifyReply) =>
    reply.type(type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(body);
  http.get('/3d_secure/challenge.js', asset('text/javascript; charset=utf-8', CHALLENGE_JS));
  http.get('/3d_secure/challenge.css', asset('text/css; charset=utf-8', CHALLENGE_CSS));

  http.get<{ Params: { id: string } }>('/3d_secure/:id', async (req, reply) => {
    const request = { requestId: req.stripeRequestId, idempotencyKey: null };
    const shown = await inTransaction(deps, request, async (tx) => {
      const auth = await findAuthentication(tx, req.params.id);
      if (!auth) return undefined;
      const csp = challengeCsp(deps.cardFormOrigin, auth.return_url);
      if (auth.status !== 'pending')
        return { csp, body: finishedPage({ id: auth.id, outcome: auth.status, parentOrigin: deps.cardFormOrigin }) };
      return { csp, body: challengePage({ id: auth.id, ...(await describe(tx, auth)) }) };
    });
    if (!shown) return htmlReply(reply, challengeCsp(deps.cardFormOrigin, null), 404, NOT_FOUND);
    return htmlReply(reply, shown.csp, 200, shown.body);
  });

  for (const [action, passed] of [
    ['complete', true],
    ['fail', false],
  ] as const) {
    http.post<{ Params: { id: string } }>(`/3d_secure/:id/${action}`, async (req, reply) => {
      const request = { requestId: req.stripeRequestId, idempotencyKey: null };
      const done = await inTransaction(deps, request, async (tx) => {
        const auth = await findAuthentication(tx, req.params.id);
        if (!auth) return undefined;
        const outcome = await finish(tx, auth, passed);
        return { auth, outcome, redirect: auth.return_url === null ? null : await returnTo(tx, auth, outcome) };
      });
      if (!done) return htmlReply(reply, challengeCsp(deps.cardFormOrigin, null), 404, NOT_FOUND);
      deps.log.info('gateway.authentication_finished', { authentication: done.auth.id, outcome: done.outcome, asked: action });
      if (done.redirect !== null) return reply.code(303).header('cache-control', 'no-store').redirect(done.redirect, 303);
      const body = finishedPage({ id: done.auth.id, outcome: done.outcome, parentOrigin: deps.cardFormOrigin });
      return htmlReply(reply, challengeCsp(deps.cardFormOrigin, done.auth.return_url), 200, body);
    });
  }
}
