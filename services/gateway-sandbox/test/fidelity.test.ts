// Where merchants rely on the sandbox behaving as Stripe does, through the
// official SDK: raw card numbers refused to the secret key, test PaymentMethods
// and tokens, receipt_email and statement_descriptor_suffix, refunds.list,
// customers.del, and Stripe's 404 for an endpoint it does not have.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { TEST_PAYMENT_METHODS } from '../src/domain/test-payment-methods.ts';
import { browserClient, startSandbox, type Sandbox } from './harness.ts';

describe('the sandbox behaves like Stripe where merchants rely on it', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  test('a secret key cannot create a PaymentMethod from a raw card number (Stripe’s raw card data error); the publishable key and test tokens can', async () => {
    const rawCard = { type: 'card' as const, card: { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' } };
    const refused = await sb.stripe.paymentMethods.create(rawCard).catch((e: unknown) => e);
    // Stripe answers 402 with type invalid_request_error; SDK v23 picks its class by status: StripeCardError.
    assert.ok(refused instanceof Stripe.errors.StripeError, String(refused));
    assert.equal(refused.statusCode, 402);
    assert.equal((refused.raw as { type?: string }).type, 'invalid_request_error');
    assert.equal(refused.code, undefined);
    assert.match(
      refused.message,
      /^Sending credit card numbers directly to the Stripe API is generally unsafe\. We suggest you use test tokens/,
    );
    assert.match(refused.message, /raw-card-data-apis/);
    const { rows } = await sb.db.pool.query('select count(*)::int as n from gateway_sandbox.payment_methods');
    assert.equal(rows[0].n, 0, 'nothing created');

    assert.equal((await browserClient(sb).paymentMethods.create(rawCard)).card?.last4, '4242');
    const byToken = await sb.stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_mastercard' } });
    assert.deepEqual([byToken.card?.brand, byToken.card?.last4], ['mastercard', '4444']);
    await assert.rejects(
      sb.stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_nonsense' } }),
      (err: any) => err.code === 'resource_missing' && err.param === 'card[token]',
    );
  });

  test('pm_card_* test PaymentMethods make a new card of their test number at each use', async () => {
    assert.ok(TEST_PAYMENT_METHODS.includes('pm_card_visa') && TEST_PAYMENT_METHODS.includes('pm_card_chargeDeclined'));
    const customer = await sb.stripe.customers.create({});
    const a = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const b = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    assert.notEqual(a.id, b.id);
    assert.match(a.id, /^pm_[0-9A-Za-z]{24}$/);
    assert.equal(a.card?.fingerprint, b.card?.fingerprint, 'the same test number');
    const paid = await sb.stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      payment_method: 'pm_card_visa',
      confirm: true,
      off_session: true,
    });
    assert.equal(paid.status, 'succeeded');
    assert.match(paid.payment_method as string, /^pm_[0-9A-Za-z]{24}$/);
    await assert.rejects(
      sb.stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        allowed_payment_method_types: ['card'],
        payment_method: 'pm_card_chargeDeclined',
        confirm: true,
      }),
      (err: any) => err instanceof Stripe.errors.StripeCardError && err.decline_code === 'generic_decline',
    );
    const saved = await sb.stripe.setupIntents.create({
      customer: customer.id,
      payment_method: 'pm_card_chargeCustomerFail',
      confirm: true,
    });
    assert.equal(saved.status, 'succeeded');
    await assert.rejects(sb.stripe.paymentMethods.retrieve('pm_card_nonsense'), (err: any) => err.statusCode === 404);
  });

  test('an intent created without payment method types gets automatic payment methods with redirects, and a server-side confirm of it needs a return_url (Stripe since API 2023-08-16)', async () => {
    const customer = await sb.stripe.customers.create({});
    const card = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const base = { amount: 1000, currency: 'usd', customer: customer.id };
    const defaulted = await sb.stripe.paymentIntents.create(base);
    assert.deepEqual(defaulted.automatic_payment_methods, { enabled: true, allow_redirects: 'always' });
    const refused = await sb.stripe.paymentIntents
      .confirm(defaulted.id, { payment_method: card.id, off_session: true })
      .catch((e: unknown) => e);
    assert.ok(refused instanceof Stripe.errors.StripeInvalidRequestError, String(refused));
    assert.equal(refused.param, 'return_url');
    assert.match(refused.message, /^A `return_url` must be specified because this Payment Intent is configured to automatically accept/);
    assert.equal((await sb.stripe.paymentIntents.retrieve(defaulted.id)).status, 'requires_payment_method', 'nothing charged');
    await assert.rejects(
      sb.stripe.paymentIntents.create({ ...base, payment_method: card.id, confirm: true, off_session: true }),
      (err: any) => err.param === 'return_url',
      'create-and-confirm too',
    );
    const kept = await sb.stripe.paymentIntents.list({ customer: customer.id });
    assert.deepEqual(
      kept.data.map((pi) => pi.id),
      [defaulted.id],
      'the refused create-and-confirm created nothing',
    );
    const withReturn = await sb.stripe.paymentIntents.confirm(defaulted.id, {
      payment_method: card.id,
      off_session: true,
      return_url: 'https://merchant.example/done',
    });
    assert.equal(withReturn.status, 'succeeded');

    const noRedirects = await sb.stripe.paymentIntents.create({
      ...base,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    });
    assert.deepEqual(noRedirects.automatic_payment_methods, { enabled: true, allow_redirects: 'never' });
    assert.equal(
      (await sb.stripe.paymentIntents.confirm(noRedirects.id, { payment_method: card.id, off_session: true })).status,
      'succeeded',
    );
    const cardsOnly = await sb.stripe.paymentIntents.create({ ...base, allowed_payment_method_types: ['card'] });
    assert.equal(cardsOnly.automatic_payment_methods, null);
    assert.deepEqual(cardsOnly.payment_method_types, ['card']);
    assert.equal(
      (await sb.stripe.paymentIntents.confirm(cardsOnly.id, { payment_method: card.id, off_session: true })).status,
      'succeeded',
    );
    await assert.rejects(
      sb.stripe.paymentIntents.create({ ...base, allowed_payment_method_types: ['card'], automatic_payment_methods: { enabled: true } }),
      (err: any) => err.param === 'automatic_payment_methods' && /only specify one of these parameters/.test(err.message),
    );
  });

  test('receipt_email and statement_descriptor_suffix are accepted, shown on the intent and its charge; a bad suffix names the param', async () => {
    const pi = await sb.stripe.paymentIntents.create({
      amount: 2500,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      payment_method: 'pm_card_visa',
      confirm: true,
      receipt_email: 'billing@example.com',
      statement_descriptor_suffix: 'INV 2024-07',
      expand: ['latest_charge'],
    });
    assert.equal(pi.receipt_email, 'billing@example.com');
    assert.equal(pi.statement_descriptor_suffix, 'INV 2024-07');
    const charge = pi.latest_charge as Stripe.Charge;
    assert.equal(charge.receipt_email, 'billing@example.com');
    assert.equal(charge.statement_descriptor_suffix, 'INV 2024-07');
    assert.equal(charge.calculated_statement_descriptor, 'VAULT* INV 2024-07');
    const updated = await sb.stripe.paymentIntents.update(pi.id, { receipt_email: 'other@example.com' });
    assert.equal(updated.receipt_email, 'other@example.com');
    await assert.rejects(
      sb.stripe.paymentIntents.create({
        amount: 2500,
        currency: 'usd',
        allowed_payment_method_types: ['card'],
        statement_descriptor_suffix: 'far too long for a descriptor',
      }),
      (err: any) => err.statusCode === 400 && err.param === 'statement_descriptor_suffix',
    );
    await assert.rejects(
      sb.stripe.paymentIntents.create({
        amount: 2500,
        currency: 'usd',
        allowed_payment_method_types: ['card'],
        receipt_email: 'not-an-email',
      }),
      (err: any) => err.statusCode === 400 && err.param === 'receipt_email',
    );
  });

  test('refunds.list lists refunds newest first, by payment intent or charge, and auto-paginates', async () => {
    const pi = await sb.stripe.paymentIntents.create({
      amount: 3000,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const made: string[] = [];
    for (const amount of [500, 700, 900]) made.push((await sb.stripe.refunds.create({ payment_intent: pi.id, amount })).id);
    const byIntent = await sb.stripe.refunds.list({ payment_intent: pi.id });
    assert.equal(byIntent.object, 'list');
    assert.deepEqual(
      byIntent.data.map((r) => r.id),
      [...made].reverse(),
    );
    const byCharge = await sb.stripe.refunds.list({ charge: pi.latest_charge as string, limit: 1 });
    assert.equal(byCharge.has_more, true);
    const walked: string[] = [];
    for await (const r of sb.stripe.refunds.list({ charge: pi.latest_charge as string, limit: 1 })) walked.push(r.id);
    assert.deepEqual(walked, [...made].reverse());
  });

  test('customers.del deletes: the id answers deleted, lists leave it out, its cards are detached and nothing new may use it', async () => {
    const customer = await sb.stripe.customers.create({ email: 'gone@example.com' });
    const pm = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const deleted = await sb.stripe.customers.del(customer.id);
    assert.deepEqual([deleted.id, deleted.object, deleted.deleted], [customer.id, 'customer', true]);
    const read = await sb.stripe.customers.retrieve(customer.id);
    assert.equal((read as Stripe.DeletedCustomer).deleted, true);
    const listed = await sb.stripe.customers.list({ email: 'gone@example.com' });
    assert.equal(listed.data.length, 0);
    assert.equal((await sb.stripe.paymentMethods.retrieve(pm.id)).customer, null);
    await assert.rejects(
      sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', allowed_payment_method_types: ['card'], customer: customer.id }),
      (err: any) => err.code === 'resource_missing' && err.param === 'customer',
    );
    await assert.rejects(sb.stripe.customers.del(customer.id), (err: any) => err.statusCode === 404);
    const events = await sb.stripe.events.list({ type: 'customer.deleted' });
    assert.equal((events.data[0]!.data.object as Stripe.Customer).id, customer.id);
  });

  test('a PaymentIntent below Stripe’s minimum charge for its currency (sek 3.00, huf 175.00, gbp 0.30, usd 0.50) is refused as amount_too_small; at it, created', async () => {
    for (const [currency, minimum] of [
      ['sek', 300],
      ['huf', 17_500],
      ['gbp', 30],
      ['usd', 50],
    ] as const) {
      const err = await sb.stripe.paymentIntents.create({ amount: minimum - 1, currency }).catch((e: unknown) => e);
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, `${currency}: ${String(err)}`);
      assert.deepEqual([err.statusCode, err.code, err.param], [400, 'amount_too_small', 'amount'], currency);
      assert.equal((await sb.stripe.paymentIntents.create({ amount: minimum, currency })).amount, minimum, currency);
    }
  });

  test('paymentIntents.search answers Stripe’s unknown-endpoint 404, not a parameter error', async () => {
    const err = await sb.stripe.paymentIntents.search({ query: "status:'succeeded'" }).catch((e: unknown) => e);
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
    assert.equal(err.statusCode, 404);
    assert.equal(err.type, 'StripeInvalidRequestError');
    assert.equal(err.code, undefined);
    assert.match(err.message, /^Unrecognized request URL \(GET: \/v1\/payment_intents\/search\)\. Please see https:\/\/stripe\.com\/docs/);
    await assert.rejects(sb.stripe.customers.search({ query: "email:'a@b.c'" }), (e: any) => e.statusCode === 404);
  });
});
