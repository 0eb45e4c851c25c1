// cc-forms once its session is over, in process over a real database: the card
// form's and pay page's calls say what did not happen and the real way back (a
// sign-in link works once: "open your sign-in link again" sent the customer in
// a loop), and Sign out on a page whose session is over is the signed-out page,
// not "This form has expired". (The card form in Chromium: test/card-form-session-ended.test.ts.)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { payPage } from '../src/web/pages/pay.ts';
import { accountToken, INVOICING_WEB_URL, SESSION_COOKIE, signIn, world, type World } from './world.ts';

let w: World;
let token: string;
before(async () => {
  w = await world();
  token = await accountToken(w, 'acct-web-1');
});
after(async () => {
  await w?.close();
});
const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');
const endSession = (id: string) => w.db.pool.query('delete from cc_forms.sessions where hash = $1', [hashOf(id)]);

describe('the card form and pay page once the session is over', () => {
  test('saving a card: 401 session_ended saying the card was not saved and how to get back, never "open your sign-in link again"', async () => {
    const b = await signIn(w, token);
    await endSession(b.session);
    for (const [url, body] of [
      ['/card/setup-intents', {}],
      ['/card', { setup_intent: 'seti_123' }],
    ] as const) {
      const res = await b.postJson(url, body);
      assert.equal(res.statusCode, 401, url);
      const { code, message } = res.json().error;
      assert.equal(code, 'session_ended');
      assert.match(message, /ended before your card was saved, so it was not saved/, url);
      assert.match(message, /Open the card form again from your invoices, or ask your account's administrator for a new sign-in link\./);
      assert.doesNotMatch(message, /sign-in link again/);
    }
  });

  test('paying: 401 session_ended saying nothing was charged and how to get back', async () => {
    const b = await signIn(w, token);
    await endSession(b.session);
    const res = await b.postJson('/payments/pi_123/start', {});
    assert.equal(res.statusCode, 401);
    const { code, message } = res.json().error;
    assert.equal(code, 'session_ended');
    assert.match(message, /ended before the payment started, so nothing was charged/);
    assert.match(message, /from your invoice, or ask your account's administrator for a new sign-in link\./);
    assert.doesNotMatch(message, /card was not saved|sign-in link again/);
  });

  test('the pages carry the words their scripts show then, with a link to the invoice pages (INVOICING_WEB_URL)', async () => {
    const b = await signIn(w, token);
    const card = (await b.get('/card')).body;
    assert.match(
      card,
      new RegExp(
        `<div id="card-session-ended" hidden>Your session ended before your card was saved, so it was not saved\\. Go back to <a href="${INVOICING_WEB_URL}/invoices">your invoices</a>`,
      ),
    );
    const pay = String(
      payPage({
        accountId: 'acct-web-1',
        csrf: b.csrf,
        invoicesUrl: INVOICING_WEB_URL,
        publishableKey: 'pk_test',
        gatewayJs: 'http://localhost:3999/v3/',
        payment: {
          intent: {
            id: 'pi_1',
            status: 'requires_action',
            customerId: 'cus_1',
            amount: 16583,
            currency: 'usd',
            clientSecret: 'pi_1_secret_x',
            metadata: { invoice_id: 'in_1', number: 'VLT-1' },
            lastPaymentMethodId: 'pm_1',
          },
          stage: 'payable',
          paymentMethodId: 'pm_1',
          card: { brand: 'visa', last4: '3184' },
          replaced: false,
        },
      }),
    );
    assert.match(
      pay,
      new RegExp(
        `<div id="pay-session-ended" hidden>Your session ended before the payment started, so nothing was charged\\. Go back to <a href="${INVOICING_WEB_URL}/invoices/in_1">your invoice</a>`,
      ),
    );
  });
});

describe('signing out of the card form once the session is over', () => {
  const signOut = (cookie: string | undefined, payload = '_csrf=stale-page-token') =>
    w.http.inject({
      method: 'POST',
      url: '/signout',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      payload,
    });
  const assertSignedOutPage = (res: Awaited<ReturnType<typeof signOut>>, what: string) => {
    assert.equal(res.statusCode, 303, `${what}: ${res.body}`);
    assert.equal(res.headers.location, '/', what);
    assert.match(String(res.headers['set-cookie']), new RegExp(`^${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0$`), what);
  };

  test('no cookie, a cookie naming an expired session, or one already ended: the signed-out page; another session lives on', async () => {
    assertSignedOutPage(await signOut(undefined), 'no cookie');
    assertSignedOutPage(await signOut(undefined, ''), 'no cookie, no token');
    const expired = await signIn(w, token);
    const ended = await signIn(w, token);
    const live = await signIn(w, token);
    await w.db.pool.query(`update cc_forms.sessions set expires_at = now() - interval '1 minute' where hash = $1`, [
      hashOf(expired.session),
    ]);
    assertSignedOutPage(await signOut(`${SESSION_COOKIE}=${expired.session}`), 'expired');
    await endSession(ended.session);
    assertSignedOutPage(await signOut(`${SESSION_COOKIE}=${ended.session}`, ''), 'ended');
    assert.equal((await live.get('/card')).statusCode, 200, 'another session lives on');
  });

  test('a live session without its token is still refused (403) and stays signed in', async () => {
    const b = await signIn(w, token);
    const refused = await signOut(`${SESSION_COOKIE}=${b.session}`);
    assert.equal(refused.statusCode, 403);
    assert.equal((await b.get('/card')).statusCode, 200, 'still signed in');
  });
});
