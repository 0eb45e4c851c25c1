// Customers, cards, SetupIntents and PaymentIntents through the official SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { browserClient, card, PK, raw, startSandbox, type Sandbox } from './harness.ts';

const FAILING = [
  { number: '4000000000000002', code: 'card_declined', decline: 'generic_decline', message: 'Your card was declined.' },
  { number: '4000000000009995', code: 'card_declined', decline: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  { number: '4000000000000127', code: 'incorrect_cvc', decline: 'incorrect_cvc', message: "Your card's security code is incorrect." },
  { number: '4000000000000069', code: 'expired_card', decline: 'expired_card', message: 'Your card has expired.' },
  {
    number: '4000000000000119',
    code: 'processing_error',
    decline: 'processing_error',
    message: 'An error occurred while processing your card. Try again in a little bit.',
  },
  { number: '4111111111111111', code: 'card_declined', decline: 'test_mode_live_card', message: /live\) card/ },
] as const;

describe('the sandbox through the official stripe SDK', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  test('a customer is created, read, updated and listed', async () => {
    const c = await sb.stripe.customers.create({ email: 'a@example.com', name: 'Ann', metadata: { account_id: 'acct-1' } });
    assert.match(c.id, /^cus_[0-9A-Za-z]{24}$/);
    assert.equal(c.object, 'customer');
    assert.equal(c.livemode, false);
    assert.deepEqual(c.metadata, { account_id: 'acct-1' });
    assert.ok(Math.abs(c.created - Date.now() / 1000) < 5);
    const got = await sb.stripe.customers.retrieve(c.id);
    assert.equal((got as Stripe.Customer).email, 'a@example.com');
    const updated = await sb.stripe.customers.update(c.id, { name: 'Anne', metadata: { extra: 'x' } });
    assert.equal(updated.name, 'Anne');
    assert.deepEqual(updated.metadata, { account_id: 'acct-1', extra: 'x' });
    const list = await sb.stripe.customers.list({ limit: 5 });
    assert.equal(list.object, 'list');
    assert.equal(list.data[0]!.id, c.id);
  });

  test('setup intent confirmed with 4242: succeeded, the card attached to the customer', async () => {
    const customer = await sb.stripe.customers.create({ email: 'b@example.com' });
    const si = await sb.stripe.setupIntents.create({ customer: customer.id });
    assert.equal(si.status, 'requires_payment_method');
    assert.equal(si.usage, 'off_session');
    assert.match(si.client_secret!, new RegExp(`^${si.id}_secret_`));
    const pm = await card(sb, '4242424242424242');
    assert.equal(pm.card!.brand, 'visa');
    assert.equal(pm.card!.last4, '4242');
    assert.equal(pm.customer, null);
    const confirmed = await sb.stripe.setupIntents.confirm(si.id, { payment_method: pm.id });
    assert.equal(confirmed.status, 'succeeded');
    assert.equal(confirmed.payment_method, pm.id);
    const attached = await sb.stripe.paymentMethods.retrieve(pm.id);
    assert.equal(attached.customer, customer.id);
    const cards = await sb.stripe.customers.listPaymentMethods(customer.id, { type: 'card' });
    assert.deepEqual(
      cards.data.map((p) => p.id),
      [pm.id],
    );
    const withDefault = await sb.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: pm.id } });
    assert.equal(withDefault.invoice_settings.default_payment_method, pm.id);
  });

  for (const f of FAILING) {
    test(`setup intent confirmed with ${f.number}: 402 ${f.code}/${f.decline}, not succeeded, card not attached`, async () => {
      const customer = await sb.stripe.customers.create({});
      const si = await sb.stripe.setupIntents.create({ customer: customer.id });
      const pm = await card(sb, f.number);
      await assert.rejects(sb.stripe.setupIntents.confirm(si.id, { payment_method: pm.id }), (err: any) => {
        assert.ok(err instanceof Stripe.errors.StripeCardError, err.constructor.name);
        assert.equal(err.statusCode, 402);
        assert.equal(err.code, f.code);
        assert.equal(err.decline_code, f.decline);
        if (typeof f.message === 'string') assert.equal(err.message, f.message);
        else assert.match(err.message, f.message);
        assert.equal((err.raw as any).setup_intent.id, si.id);
        assert.equal((err.raw as any).setup_intent.status, 'requires_payment_method');
        return true;
      });
      const after = await sb.stripe.setupIntents.retrieve(si.id);
      assert.equal(after.status, 'requires_payment_method');
      assert.equal(after.last_setup_error?.code, f.code);
      assert.equal((await sb.stripe.paymentMethods.retrieve(pm.id)).customer, null);
    });
  }

  test('a Luhn-invalid number is incorrect_number; a past expiry invalid_expiry_year', async () => {
    await assert.rejects(card(sb, '4242424242424241'), (err: any) => {
      assert.ok(err instanceof Stripe.errors.StripeCardError);
      assert.equal(err.code, 'incorrect_number');
      assert.equal(err.param, 'card[number]');
      return true;
    });
    await assert.rejects(
      browserClient(sb).paymentMethods.create({
        type: 'card',
        card: { number: '4242424242424242', exp_month: 1, exp_year: 2020, cvc: '123' },
      }),
      (err: any) => err.code === 'invalid_expiry_year' && err.param === 'card[exp_year]',
    );
  });

  test('a succeeded setup intent cannot be confirmed again: setup_intent_unexpected_state', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, '5555555555554444');
    const si = await sb.stripe.setupIntents.create({ customer: customer.id, payment_method: pm.id, confirm: true });
    assert.equal(si.status, 'succeeded');
    await assert.rejects(sb.stripe.setupIntents.confirm(si.id, { payment_method: pm.id }), (err: any) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.code, 'setup_intent_unexpected_state');
      return true;
    });
  });

  test('card testing: with the publishable key, a setup intent whose confirmation failed cannot be confirmed again with any card', async () => {
    const customer = await sb.stripe.customers.create({});
    const si = await sb.stripe.setupIntents.create({ customer: customer.id });
    const tryCard = async (number: string, idempotencyKey?: string) => {
      const form = { type: 'card', 'card[number]': number, 'card[exp_month]': '12', 'card[exp_year]': '2034', 'card[cvc]': '123' };
      const pm = await raw(sb.url, 'POST', '/v1/payment_methods', { key: PK, form });
      return raw(sb.url, 'POST', `/v1/setup_intents/${si.id}/confirm`, {
        key: PK,
        form: { payment_method: pm.body.id, client_secret: si.client_secret! },
        ...(idempotencyKey ? { idempotencyKey } : {}),
      });
    };
    const first = await tryCard('4000000000000002', 'first-try');
    assert.deepEqual([first.status, first.body.error.code], [402, 'card_declined']);
    for (const number of ['4000000000009995', '4000000000000069', '4242424242424242']) {
      const again = await tryCard(number);
      assert.equal(again.status, 400, number);
      assert.equal(again.body.error.code, 'setup_intent_unexpected_state', number);
      assert.match(again.body.error.message, /its last confirmation failed\. Create a new SetupIntent/);
    }
    // A replay of the failed confirmation is its stored answer, not a new attempt.
    const replayed = await raw(sb.url, 'POST', `/v1/setup_intents/${si.id}/confirm`, {
      key: PK,
      form: { payment_method: first.body.error.payment_method.id, client_secret: si.client_secret! },
      idempotencyKey: 'first-try',
    });
    assert.equal(replayed.status, 402);
    assert.equal(replayed.headers.get('idempotent-replayed'), 'true');
    const after = await sb.stripe.setupIntents.retrieve(si.id);
    assert.equal(after.status, 'requires_payment_method');
    assert.equal(after.payment_method, null, 'the good card never got through');
    const attempts = await sb.db.pool.query(
      `select count(*)::int as n from gateway_sandbox.events where type = 'setup_intent.setup_failed' and data->'object'->>'id' = $1`,
      [si.id],
    );
    assert.equal(attempts.rows[0].n, 1, 'one card tried on it');
  });

  test('payment intent off-session with 4242 succeeds once; a second confirm is payment_intent_unexpected_state', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, '4242424242424242');
    await sb.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    const pi = await sb.stripe.paymentIntents.create({
      amount: 5258,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
      metadata: { invoice_id: 'inv-1' },
    });
    assert.equal(pi.status, 'requires_payment_method');
    const paid = await sb.stripe.paymentIntents.confirm(pi.id, { payment_method: pm.id, off_session: true, expand: ['latest_charge'] });
    assert.equal(paid.status, 'succeeded');
    assert.equal(paid.amount_received, 5258);
    const charge = paid.latest_charge as Stripe.Charge;
    assert.equal(charge.status, 'succeeded');
    assert.equal(charge.amount, 5258);
    assert.equal(charge.paid, true);
    assert.equal(charge.outcome?.type, 'authorized');
    await assert.rejects(sb.stripe.paymentIntents.confirm(pi.id, { payment_method: pm.id, off_session: true }), (err: any) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.code, 'payment_intent_unexpected_state');
      assert.equal((err.raw as any).payment_intent.status, 'succeeded');
      return true;
    });
    const charges = await sb.stripe.charges.list({ payment_intent: pi.id });
    assert.equal(charges.data.filter((c) => c.status === 'succeeded').length, 1);
  });

  test('4000000000000341 attaches, then every charge fails card_declined/generic_decline', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, '4000000000000341');
    const si = await sb.stripe.setupIntents.create({ customer: customer.id, payment_method: pm.id, confirm: true });
    assert.equal(si.status, 'succeeded');
    const pi = await sb.stripe.paymentIntents.create({
      amount: 2139,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
    });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(sb.stripe.paymentIntents.confirm(pi.id, { payment_method: pm.id, off_session: true }), (err: any) => {
        assert.ok(err instanceof Stripe.errors.StripeCardError);
        assert.equal(err.code, 'card_declined');
        assert.equal(err.decline_code, 'generic_decline');
        assert.equal((err.raw as any).payment_intent.id, pi.id);
        assert.equal((err.raw as any).payment_intent.status, 'requires_payment_method');
        assert.match((err.raw as any).charge, /^ch_/);
        return true;
      });
    }
    const after = await sb.stripe.paymentIntents.retrieve(pi.id);
    assert.equal(after.status, 'requires_payment_method');
    assert.equal(after.last_payment_error?.decline_code, 'generic_decline');
    const charges = await sb.stripe.charges.list({ payment_intent: pi.id });
    assert.deepEqual(
      charges.data.map((c) => [c.status, c.failure_code, c.outcome?.type]),
      [
        ['failed', 'card_declined', 'issuer_declined'],
        ['failed', 'card_declined', 'issuer_declined'],
      ],
    );
  });

  test('refunds: partial, then the rest; more than remains is a 400 naming amount; charge.refunded', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, '4242424242424242');
    const pi = await sb.stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
      payment_method: pm.id,
      confirm: true,
      off_session: true,
    });
    assert.equal(pi.status, 'succeeded');
    const r1 = await sb.stripe.refunds.create({ payment_intent: pi.id, amount: 400 });
    assert.equal(r1.object, 'refund');
    assert.equal(r1.amount, 400);
    assert.equal(r1.status, 'succeeded');
    await assert.rejects(sb.stripe.refunds.create({ payment_intent: pi.id, amount: 700 }), (err: any) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.param, 'amount');
      return true;
    });
    const r2 = await sb.stripe.refunds.create({ charge: pi.latest_charge as string });
    assert.equal(r2.amount, 600);
    assert.deepEqual(await sb.stripe.refunds.retrieve(r2.id), r2);
    const charge = await sb.stripe.charges.retrieve(pi.latest_charge as string);
    assert.equal(charge.amount_refunded, 1000);
    assert.equal(charge.refunded, true);
    const events = await sb.stripe.events.list({ type: 'charge.refunded', limit: 100 });
    assert.equal(events.data.filter((e) => (e.data.object as Stripe.Charge).id === charge.id).length, 2);
  });

  test('the SDK auto-paginates lists newest first', async () => {
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await sb.stripe.customers.create({ email: `page-${i}@example.com` })).id);
    const seen: string[] = [];
    for await (const c of sb.stripe.customers.list({ limit: 2 })) seen.push(c.id);
    assert.deepEqual(seen.slice(0, 7), created.reverse());
    assert.equal(new Set(seen).size, seen.length);
  });

  test('a bad param is a 400 naming it in form notation', async () => {
    const res = await raw(sb.url, 'POST', '/v1/payment_methods', {
      form: { type: 'card', 'card[number]': '4242424242424242', 'card[exp_month]': 'soon', 'card[exp_year]': '2034' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.type, 'invalid_request_error');
    assert.equal(res.body.error.param, 'card[exp_month]');
    const missing = await raw(sb.url, 'POST', '/v1/payment_intents', { form: { currency: 'usd' } });
    assert.equal(missing.body.error.param, 'amount');
    assert.equal(missing.body.error.code, 'parameter_missing');
    const unknown = await raw(sb.url, 'POST', '/v1/customers', { form: { colour: 'blue' } });
    assert.equal(unknown.body.error.param, 'colour');
    assert.match(unknown.headers.get('request-id')!, /^req_/);
    const gone = await sb.stripe.paymentIntents.retrieve('pi_nope').catch((e) => e);
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.code, 'resource_missing');
    assert.equal(gone.message, "No such payment_intent: 'pi_nope'");
  });

  test('the publishable key only creates cards and reads/confirms a setup intent with its client secret', async () => {
    const customer = await sb.stripe.customers.create({});
    const si = await sb.stripe.setupIntents.create({ customer: customer.id });
    const pmRes = await raw(sb.url, 'POST', '/v1/payment_methods', {
      key: null,
      form: {
        key: PK,
        type: 'card',
        'card[number]': '4242424242424242',
        'card[exp_month]': '12',
        'card[exp_year]': '2034',
        'card[cvc]': '123',
      },
    });
    assert.equal(pmRes.status, 200, JSON.stringify(pmRes.body));
    const read = await raw(sb.url, 'GET', `/v1/setup_intents/${si.id}?client_secret=${si.client_secret}`, { key: PK });
    assert.equal(read.status, 200);
    const wrong = await raw(sb.url, 'GET', `/v1/setup_intents/${si.id}?client_secret=${si.id}_secret_wrong`, { key: PK });
    assert.equal(wrong.status, 400);
    const noSecret = await raw(sb.url, 'POST', `/v1/setup_intents/${si.id}/confirm`, { key: PK, form: { payment_method: pmRes.body.id } });
    assert.equal(noSecret.status, 400);
    const ok = await raw(sb.url, 'POST', `/v1/setup_intents/${si.id}/confirm`, {
      key: PK,
      form: { payment_method: pmRes.body.id, client_secret: si.client_secret! },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 'succeeded');
    for (const [method, path] of [
      ['GET', `/v1/customers/${customer.id}`],
      ['POST', '/v1/customers'],
      ['GET', '/v1/customers'],
      ['POST', '/v1/setup_intents'],
      ['POST', '/v1/payment_intents'],
      ['GET', `/v1/payment_methods/${pmRes.body.id}`],
      ['POST', '/v1/webhook_endpoints'],
      ['GET', '/v1/events'],
      ['POST', '/v1/refunds'],
    ] as const) {
      const res = await raw(sb.url, method, path, { key: PK, ...(method === 'POST' ? { form: {} } : {}) });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.match(res.body.error.message, /publishable API key/);
    }
    const pkClient = new Stripe(PK, { host: 'localhost', port: new URL(sb.url).port, protocol: 'http' });
    await assert.rejects(pkClient.customers.list(), (err: any) => err instanceof Stripe.errors.StripePermissionError);
    const bogus = new Stripe('sk_test_bogus_key_1234', { host: 'localhost', port: new URL(sb.url).port, protocol: 'http' });
    await assert.rejects(bogus.customers.list(), (err: any) => {
      assert.ok(err instanceof Stripe.errors.StripeAuthenticationError);
      assert.match(err.message, /^Invalid API Key provided: sk_test_\*+1234$/);
      return true;
    });
    const none = await raw(sb.url, 'GET', '/v1/customers', { key: null });
    assert.equal(none.status, 401);
  });

  test('keys also work as Basic auth and as key= in a browser-style body (charset in the content type)', async () => {
    const basic = await fetch(`${sb.url}/v1/customers?limit=1`, {
      headers: { authorization: `Basic ${Buffer.from(`${PK.replace('pk', 'sk')}:`).toString('base64')}` },
    });
    assert.equal(basic.status, 200);
    assert.equal((await basic.json()).object, 'list');
    const body = new URLSearchParams({
      key: PK,
      type: 'card',
      'card[number]': '5555555555554444',
      'card[exp_month]': '1',
      'card[exp_year]': '40',
      'card[cvc]': '123',
    });
    const res = await fetch(`${sb.url}/v1/payment_methods`, { method: 'POST', body });
    const pm = await res.json();
    assert.equal(res.status, 200, JSON.stringify(pm));
    assert.equal(pm.card.brand, 'mastercard');
    assert.equal(pm.card.exp_year, 2040);
    assert.equal(pm.card.checks.cvc_check, 'pass');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });

  test("an unknown URL is Stripe's 404 with a Request-Id", async () => {
    const res = await raw(sb.url, 'GET', '/v1/nothing_here');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.type, 'invalid_request_error');
    assert.match(res.body.error.message, /^Unrecognized request URL \(GET: \/v1\/nothing_here\)/);
    assert.match(res.headers.get('request-id')!, /^req_/);
  });

  test('a publishable key may not expand a setup intent; the secret key may', async () => {
    const customer = await sb.stripe.customers.create({});
    const si = await sb.stripe.setupIntents.create({ customer: customer.id });
    const expanded = await raw(sb.url, 'GET', `/v1/setup_intents/${si.id}?client_secret=${si.client_secret}&expand[0]=customer`, {
      key: PK,
    });
    assert.equal(expanded.status, 400);
    const viaSecret = await sb.stripe.setupIntents.retrieve(si.id, { expand: ['customer'] });
    assert.equal((viaSecret.customer as Stripe.Customer).id, customer.id);
  });
});
