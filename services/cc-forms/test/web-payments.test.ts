// The authenticate-and-pay page, in process over a real database and a fake
// gateway: the signed-in account sees its own invoice's PaymentIntent, and only
// it gets the client secret; another account's is a 404 like an unknown one.
// The challenge itself runs in Chromium against the sandbox (test/authenticate-payment.test.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { declineOf } from '../src/cards/gateway.ts';
import { formatAmount } from '../src/domain/amount.ts';
import { customerWithCard as customerWithCardOf, intentFor as intentOf } from './payment-fixture.ts';
import { accountToken, GATEWAY_ORIGIN, INVOICING_WEB_URL, signIn, world, type World } from './world.ts';

let w: World;
before(async () => {
  w = await world();
});
after(async () => {
  await w?.close();
});

const customerWithCard = (accountId: string) => customerWithCardOf(w, accountId);
const intentFor = (accountId: string, customerId: string, pm: string, status?: string) => intentOf(w, accountId, customerId, pm, status);

describe('authenticating and paying an invoice on the card form', () => {
  test('the account’s own payment: the page names the invoice, amount and card, loads only the gateway’s JS and pay.js, and links back to the invoice', async () => {
    const { b, customerId, pm } = await customerWithCard('acct-pay-1');
    const pi = intentFor('acct-pay-1', customerId, pm);
    const res = await b.get(`/payments/${pi.id}`);
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /<h1>Pay invoice 2026-10-000007<\/h1>/);
    assert.match(res.body, /<strong data-amount>\$52\.58<\/strong>/);
    assert.match(res.body, /<strong data-card>Visa •••• 3184<\/strong>/);
    assert.match(res.body, /<button type="submit" id="pay-submit">Authenticate and pay \$52\.58<\/button>/);
    assert.match(res.body, new RegExp(`<a href="${INVOICING_WEB_URL}/invoices/in_0123">Back to invoice 2026-10-000007</a>`));
    assert.match(res.body, /<div id="pay-errors" class="alert" role="alert" tabindex="-1"><\/div>/);
    assert.doesNotMatch(res.body, new RegExp(pi.clientSecret!), 'the client secret is not in the page');
    const scripts = [...res.body.matchAll(/<script src="([^"]+)" defer><\/script>/g)].map((m) => m[1]);
    assert.deepEqual(scripts, [`${GATEWAY_ORIGIN}/v3/`, '/static/pay.js']);
    assert.ok(!/<style|\sstyle="|\son[a-z]+="/i.test(res.body), 'no inline style or handler');
    const script = await b.get('/static/pay.js');
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
  });

  test('a card put on file since the bank asked (or declined): the page names that card, and /start pays with it, not the replaced one', async () => {
    const { b, customerId, pm: replacedPm } = await customerWithCard('acct-pay-8');
    const asked = intentFor('acct-pay-8', customerId, replacedPm);
    const declined = intentFor('acct-pay-8', customerId, replacedPm);
    declined.lastDecline = 'Your card was declined.';
    const secret = (await b.postJson('/card/setup-intents', {})).json().client_secret as string;
    const si = secret.split('_secret_')[0]!;
    const onFile = w.gateway.confirm(si, { brand: 'mastercard', last4: '4444' });
    assert.equal((await b.postJson('/card', { setup_intent: si })).statusCode, 200);
    for (const pi of [asked, declined]) {
      const page = await b.get(`/payments/${pi.id}`);
      assert.equal(page.statusCode, 200);
      assert.match(
        page.body,
        /<p data-replaced>You have put another card on file since: this payment is now made with <strong data-card>Mastercard •••• 4444<\/strong>/,
      );
      assert.match(page.body, /<button type="submit" id="pay-submit">Pay \$52\.58 with Mastercard •••• 4444<\/button>/);
      assert.doesNotMatch(page.body, /3184/, 'the replaced card is not offered');
      const start = await b.postJson(`/payments/${pi.id}/start`, {});
      assert.deepEqual(start.json(), { client_secret: pi.clientSecret, payment_method: onFile });
    }
    assert.match((await b.get(`/payments/${declined.id}`)).body, /<q data-reason>Your card was declined\.<\/q>/);

    // No card on file here at all: the refused attempt's card, named as the gateway knows it.
    const bare = await signIn(w, await accountToken(w, 'acct-pay-9'));
    assert.equal((await bare.postJson('/card/setup-intents', {})).statusCode, 201);
    const bareCustomer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-pay-9')!.id;
    const pm = {
      id: `pm_${randomBytes(12).toString('hex')}`,
      customerId: bareCustomer,
      brand: 'visa',
      last4: '0341',
      expMonth: 1,
      expYear: 2035,
    };
    w.gateway.paymentMethods.set(pm.id, pm);
    const pi = intentFor('acct-pay-9', bareCustomer, pm.id);
    assert.match((await bare.get(`/payments/${pi.id}`)).body, /before it can be charged to <strong data-card>Visa •••• 0341<\/strong>/);
    assert.equal((await bare.postJson(`/payments/${pi.id}/start`, {})).json().payment_method, pm.id);
  });

  test('POST /payments/:id/start gives its client secret and card only with the CSRF token, and only to the account it belongs to', async () => {
    const { b, customerId, pm } = await customerWithCard('acct-pay-2');
    const pi = intentFor('acct-pay-2', customerId, pm);
    const ok = await b.postJson(`/payments/${pi.id}/start`, {});
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { client_secret: pi.clientSecret, payment_method: pm });
    const noCsrf = await b.postJson(`/payments/${pi.id}/start`, {}, null);
    assert.equal(noCsrf.statusCode, 403);
    assert.equal(noCsrf.json().error.code, 'csrf');

    const { b: other } = await customerWithCard('acct-pay-3');
    for (const res of [await other.get(`/payments/${pi.id}`), await other.postJson(`/payments/${pi.id}/start`, {})]) {
      assert.equal(res.statusCode, 404);
      assert.doesNotMatch(res.body, new RegExp(`${pi.clientSecret}|2026-10-000007|52\\.58`));
    }
    const unknown = await other.get('/payments/pi_000000000000000000000000');
    assert.equal(unknown.statusCode, 404);
    assert.equal((await other.get('/payments/not-an-id')).statusCode, 404);
    assert.match(w.log.lines.join('\n'), /event=payment.refused account_id=acct-pay-3 payment_intent_id=pi_\w+ reason=other_customer/);
    assert.ok(!w.log.lines.join('\n').includes(pi.clientSecret!), 'the client secret never reaches the logs');
  });

  test('a payment already made says it was made (not that the invoice is paid: a refund may have come since), offers no button and no client secret; without a session the page redirects to /', async () => {
    const { b, customerId, pm } = await customerWithCard('acct-pay-4');
    const pi = intentFor('acct-pay-4', customerId, pm, 'succeeded');
    const page = await b.get(`/payments/${pi.id}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Your payment of \$52\.58 was made\./);
    // The PaymentIntent knows nothing of a refund or chargeback since: the page claims no state of the invoice.
    assert.doesNotMatch(page.body, /invoice is paid/i);
    assert.doesNotMatch(page.body, /pay-submit|pay\.js/);
    const start = await b.postJson(`/payments/${pi.id}/start`, {});
    assert.equal(start.statusCode, 409);
    assert.equal(start.json().error.code, 'already_paid');
    const anonymous = await w.http.inject({ method: 'GET', url: `/payments/${pi.id}` });
    assert.equal(anonymous.statusCode, 303);
    assert.equal(anonymous.headers.location, '/');
  });

  test('declined by the bank after authenticating: the page says so with the bank’s words, invites another card, and offers to try again', async () => {
    const { b, customerId, pm } = await customerWithCard('acct-pay-6');
    const pi = intentFor('acct-pay-6', customerId, pm);
    pi.lastDecline = declineOf({
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'generic_decline',
      message: 'Your card was declined.',
    });
    const page = await b.get(`/payments/${pi.id}`);
    assert.equal(page.statusCode, 200);
    assert.match(
      page.body,
      /Your bank declined this payment of <strong data-amount>\$52\.58<\/strong> with <strong data-card>Visa •••• 3184<\/strong>/,
    );
    assert.match(page.body, /<q data-reason>Your card was declined\.<\/q>/);
    assert.match(page.body, /<a href="\/card">Put another payment card on file<\/a>/);
    assert.doesNotMatch(page.body, /asks you to confirm/);
    // Stripe lets the same PaymentIntent be confirmed again: the button and /start stay, consistent.
    assert.match(page.body, /<button type="submit" id="pay-submit">Try again: pay \$52\.58<\/button>/);
    const scripts = [...page.body.matchAll(/<script src="([^"]+)" defer><\/script>/g)].map((m) => m[1]);
    assert.deepEqual(scripts, [`${GATEWAY_ORIGIN}/v3/`, '/static/pay.js']);
    assert.doesNotMatch(page.body, new RegExp(pi.clientSecret!), 'the client secret is not in the page');
    const start = await b.postJson(`/payments/${pi.id}/start`, {});
    assert.equal(start.statusCode, 200);
    assert.deepEqual(start.json(), { client_secret: pi.clientSecret, payment_method: pm });
  });

  test('a soft decline asking for authentication (decline_code authentication_required) is no decline: the page asks to confirm, /start answers', async () => {
    const { b, customerId, pm } = await customerWithCard('acct-pay-7');
    const pi = intentFor('acct-pay-7', customerId, pm);
    const soft = { type: 'card_error', code: 'card_declined', decline_code: 'authentication_required', message: 'Your card was declined.' };
    pi.lastDecline = declineOf(soft);
    assert.equal(pi.lastDecline, undefined);
    assert.equal(declineOf({ type: 'card_error', code: 'requires_action', message: 'x' }), undefined);
    const page = await b.get(`/payments/${pi.id}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Your bank asks you to confirm this payment of <strong data-amount>\$52\.58<\/strong>/);
    assert.match(page.body, /<button type="submit" id="pay-submit">Authenticate and pay \$52\.58<\/button>/);
    assert.doesNotMatch(page.body, /data-declined|Your bank declined/);
    const start = await b.postJson(`/payments/${pi.id}/start`, {});
    assert.equal(start.statusCode, 200);
    assert.deepEqual(start.json(), { client_secret: pi.clientSecret, payment_method: pm });
  });

  test('the card page and the pages link back to the invoices; /favicon.ico is an icon, not a 404', async () => {
    const { b } = await customerWithCard('acct-pay-5');
    const card = await b.get('/card');
    assert.match(card.body, new RegExp(`<a href="${INVOICING_WEB_URL}/invoices">Invoices</a>`));
    const icon = await w.http.inject({ method: 'GET', url: '/favicon.ico' });
    assert.equal(icon.statusCode, 200);
    assert.equal(icon.headers['content-type'], 'image/x-icon');
    assert.equal(icon.headers['cache-control'], 'public, max-age=86400');
    assert.deepEqual([...icon.rawPayload.subarray(0, 4)], [0, 0, 1, 0], 'an ICO header');
  });
});

describe('amounts in minor units', () => {
  test('are shown as the invoice pages show them, by integer arithmetic', () => {
    assert.equal(formatAmount(5258, 'usd'), '$52.58');
    assert.equal(formatAmount(5, 'usd'), '$0.05');
    assert.equal(formatAmount(123456789, 'usd'), '$1,234,567.89');
    assert.equal(formatAmount(1000, 'eur'), 'EUR 10.00');
    assert.equal(formatAmount(500, 'jpy'), 'JPY 500');
    assert.throws(() => formatAmount(1.5, 'usd'), /minor units/);
  });
});
