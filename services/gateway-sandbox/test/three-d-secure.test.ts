// 3-D Secure test cards through the official SDK: requires_action with a
// next_action on-session and when saving, the challenge page completing or
// failing it, authentication_required off-session, and the webhooks' events.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { browserClient, card, CARD_FORM_ORIGIN, PK, raw, startSandbox, type Sandbox } from './harness.ts';

const ON_SETUP = '4000002500003155';
const ALWAYS = '4000002760003184';

/** The challenge page's address in a next_action of either shape. */
function challengeUrl(intent: { next_action: Stripe.PaymentIntent.NextAction | Stripe.SetupIntent.NextAction | null }): string {
  const action = intent.next_action as { type: string; use_stripe_sdk?: { stripe_js: string }; redirect_to_url?: { url: string } };
  return action.type === 'redirect_to_url' ? action.redirect_to_url!.url : action.use_stripe_sdk!.stripe_js;
}

/** What the cardholder's click on the challenge page does: POST …/complete or …/fail. */
function click(url: string, button: 'complete' | 'fail') {
  return fetch(`${url}/${button}`, { method: 'POST', redirect: 'manual' });
}

describe('3-D Secure test cards through the official stripe SDK', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  const eventTypes = async (objectId: string) => {
    const { rows } = await sb.db.pool.query<{ type: string }>(
      `select type from gateway_sandbox.events where data->'object'->>'id' = $1 order by seq`,
      [objectId],
    );
    return rows.map((r) => r.type);
  };

  test('4000002500003155: saving it requires action; completing the challenge saves it, and then it pays off-session without the cardholder', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, ON_SETUP);
    const si = await sb.stripe.setupIntents.create({ customer: customer.id, payment_method: pm.id, confirm: true });
    assert.equal(si.status, 'requires_action');
    assert.equal(si.next_action?.type, 'use_stripe_sdk');
    const url = challengeUrl(si);
    assert.ok(url.startsWith(`${sb.url}/3d_secure/src_`), url);
    assert.equal((await sb.stripe.paymentMethods.retrieve(pm.id)).customer, null, 'not saved before authenticating');

    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Complete authentication[\s\S]*Fail authentication/);
    assert.match(page.headers.get('content-security-policy')!, new RegExp(`frame-ancestors ${CARD_FORM_ORIGIN}$`));

    assert.equal((await click(url, 'complete')).status, 200);
    const saved = await sb.stripe.setupIntents.retrieve(si.id);
    assert.equal(saved.status, 'succeeded');
    assert.equal(saved.next_action, null);
    assert.equal((await sb.stripe.paymentMethods.retrieve(pm.id)).customer, customer.id);
    assert.deepEqual(await eventTypes(si.id), ['setup_intent.created', 'setup_intent.requires_action', 'setup_intent.succeeded']);

    const paid = await sb.stripe.paymentIntents.create({
      amount: 1500,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
      payment_method: pm.id,
      confirm: true,
      off_session: true,
    });
    assert.equal(paid.status, 'succeeded');
  });

  test('4000002500003155 attached without a SetupIntent is not set up: off-session it is 402 authentication_required', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await sb.stripe.paymentMethods.attach('pm_card_authenticationRequiredOnSetup', { customer: customer.id });
    assert.equal(pm.card?.last4, '3155');
    await assert.rejects(
      sb.stripe.paymentIntents.create({
        amount: 900,
        currency: 'usd',
        allowed_payment_method_types: ['card'],
        customer: customer.id,
        payment_method: pm.id,
        confirm: true,
        off_session: true,
      }),
      (err: any) => err instanceof Stripe.errors.StripeCardError && err.code === 'authentication_required',
    );
  });

  test('4000002760003184 off-session: 402 authentication_required, the intent back in requires_payment_method; the customer then authenticates on-session and it is paid once', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, ALWAYS);
    const si = await sb.stripe.setupIntents.create({ customer: customer.id, payment_method: pm.id, confirm: true });
    assert.equal((await click(challengeUrl(si), 'complete')).status, 200);
    assert.equal((await sb.stripe.setupIntents.retrieve(si.id)).status, 'succeeded');

    const pi = await sb.stripe.paymentIntents.create({
      amount: 5258,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
    });
    const refused = await sb.stripe.paymentIntents.confirm(pi.id, { payment_method: pm.id, off_session: true }).catch((e: unknown) => e);
    assert.ok(refused instanceof Stripe.errors.StripeCardError, String(refused));
    assert.equal(refused.statusCode, 402);
    assert.equal(refused.type, 'StripeCardError');
    assert.equal(refused.code, 'authentication_required');
    assert.equal(refused.decline_code, 'authentication_required');
    assert.equal(refused.message, 'Your card was declined. This transaction requires authentication.');
    const inError = (refused.raw as any).payment_intent as Stripe.PaymentIntent;
    assert.equal(inError.status, 'requires_payment_method');
    assert.equal(inError.last_payment_error?.code, 'authentication_required');
    assert.equal((inError.last_payment_error!.payment_method as Stripe.PaymentMethod).id, pm.id, 'the card to authenticate');
    assert.equal(inError.next_action, null);

    // The customer, back on-session, confirms with the card the error names (Stripe.js, publishable key).
    const confirmed = await raw(sb.url, 'POST', `/v1/payment_intents/${pi.id}/confirm`, {
      key: null,
      form: { key: PK, client_secret: pi.client_secret!, payment_method: pm.id, use_stripe_sdk: 'true' },
    });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    assert.equal(confirmed.body.status, 'requires_action');
    assert.equal(confirmed.body.next_action.type, 'use_stripe_sdk');
    assert.equal(confirmed.body.next_action.use_stripe_sdk.type, 'three_d_secure_redirect');
    assert.equal(confirmed.body.latest_charge, (await sb.stripe.charges.list({ payment_intent: pi.id })).data[0]!.id, 'no new charge yet');

    const url = challengeUrl(confirmed.body);
    assert.equal((await click(url, 'complete')).status, 200);
    const again = await click(url, 'complete');
    assert.match(await again.text(), /Authentication complete/, 'a second click shows how it ended');
    const paid = await sb.stripe.paymentIntents.retrieve(pi.id);
    assert.equal(paid.status, 'succeeded');
    assert.equal(paid.amount_received, 5258);
    const charges = await sb.stripe.charges.list({ payment_intent: pi.id });
    assert.deepEqual(
      charges.data.map((c) => [c.status, c.failure_code]),
      [
        ['succeeded', null],
        ['failed', 'authentication_required'],
      ],
    );
    assert.deepEqual(await eventTypes(pi.id), [
      'payment_intent.created',
      'payment_intent.payment_failed',
      'payment_intent.requires_action',
      'payment_intent.succeeded',
    ]);
  });

  test('failing the challenge leaves the payment in requires_payment_method with payment_intent_authentication_failure', async () => {
    const pi = await sb.stripe.paymentIntents.create({
      amount: 2000,
      currency: 'eur',
      allowed_payment_method_types: ['card'],
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    assert.equal(pi.status, 'requires_action');
    const page = await (await fetch(challengeUrl(pi))).text();
    assert.match(page, /a payment of 20\.00 EUR with the card ending in 3184/);
    assert.equal((await click(challengeUrl(pi), 'fail')).status, 200);
    const failed = await sb.stripe.paymentIntents.retrieve(pi.id);
    assert.equal(failed.status, 'requires_payment_method');
    assert.equal(failed.last_payment_error?.code, 'payment_intent_authentication_failure');
    assert.equal(failed.last_payment_error?.type, 'invalid_request_error');
    assert.equal(failed.payment_method, null);
    assert.equal((await sb.stripe.charges.list({ payment_intent: pi.id })).data.length, 0, 'no charge without authentication');
    assert.deepEqual((await eventTypes(pi.id)).slice(-1), ['payment_intent.payment_failed']);
  });

  test('with a return_url the next action is redirect_to_url, and the challenge sends the customer back with redirect_status', async () => {
    const pi = await sb.stripe.paymentIntents.create({
      amount: 1200,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      payment_method: 'pm_card_threeDSecure2Required',
      confirm: true,
      return_url: 'https://shop.example/after?order=7',
    });
    assert.equal(pi.next_action?.type, 'redirect_to_url');
    assert.equal(pi.next_action?.redirect_to_url?.return_url, 'https://shop.example/after?order=7');
    const page = await fetch(challengeUrl(pi));
    assert.match(page.headers.get('content-security-policy')!, /form-action 'self' https:\/\/shop\.example;/);
    const back = await click(challengeUrl(pi), 'complete');
    assert.equal(back.status, 303);
    const to = new URL(back.headers.get('location')!);
    assert.equal(to.origin + to.pathname, 'https://shop.example/after');
    assert.equal(to.searchParams.get('order'), '7');
    assert.equal(to.searchParams.get('payment_intent'), pi.id);
    assert.equal(to.searchParams.get('payment_intent_client_secret'), pi.client_secret);
    assert.equal(to.searchParams.get('redirect_status'), 'succeeded');
    assert.equal((await sb.stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded');
  });

  test('a new confirmation abandons the pending challenge; error_on_requires_action fails instead of asking', async () => {
    const pi = await sb.stripe.paymentIntents.create({
      amount: 800,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    const first = challengeUrl(pi);
    const second = await sb.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    assert.equal(second.status, 'succeeded');
    assert.match(await (await click(first, 'complete')).text(), /no longer needed/);
    assert.equal((await sb.stripe.charges.list({ payment_intent: pi.id })).data.length, 1);

    await assert.rejects(
      sb.stripe.paymentIntents.create({
        amount: 800,
        currency: 'usd',
        allowed_payment_method_types: ['card'],
        payment_method: 'pm_card_authenticationRequired',
        confirm: true,
        error_on_requires_action: true,
      }),
      (err: any) => err instanceof Stripe.errors.StripeCardError && err.code === 'authentication_required',
    );
    assert.equal((await fetch(`${sb.url}/3d_secure/src_unknown`)).status, 404);
  });

  test('the publishable key reads and confirms a payment intent only with its client secret, and never off-session', async () => {
    const pi = await sb.stripe.paymentIntents.create({ amount: 700, currency: 'usd', allowed_payment_method_types: ['card'] });
    const pk = browserClient(sb);
    const read = await pk.paymentIntents.retrieve(pi.id, { client_secret: pi.client_secret! });
    assert.equal(read.id, pi.id);
    await assert.rejects(pk.paymentIntents.retrieve(pi.id), (err: any) => err.statusCode === 400 && err.param === 'client_secret');
    await assert.rejects(
      pk.paymentIntents.confirm(pi.id, {
        payment_method: 'pm_card_visa',
        client_secret: `${pi.id}_secret_wrong`,
      } as Stripe.PaymentIntentConfirmParams),
      (err: any) => err.statusCode === 400 && err.param === 'client_secret',
    );
    await assert.rejects(
      pk.paymentIntents.confirm(pi.id, {
        payment_method: 'pm_card_visa',
        off_session: true,
        client_secret: pi.client_secret,
      } as Stripe.PaymentIntentConfirmParams),
      (err: any) => err.statusCode === 400 && err.param === 'off_session',
    );
    await assert.rejects(
      pk.paymentIntents.create({ amount: 700, currency: 'usd', allowed_payment_method_types: ['card'] }),
      (err: any) => err instanceof Stripe.errors.StripePermissionError,
    );
  });
});
