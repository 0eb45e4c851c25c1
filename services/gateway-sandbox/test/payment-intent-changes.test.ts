// What a PaymentIntent lets a caller change, as Stripe does, through the official SDK:
// capture (refused: capture is automatic only) and an unconfirmed intent's amount,
// currency and card; and create's parameter refusals, which leave nothing under the
// Idempotency-Key, so the corrected request executes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { startSandbox, type Sandbox } from './harness.ts';

describe('PaymentIntent capture and update, as Stripe’s', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  const refused = (code: string, param?: string, message?: RegExp) => (err: unknown) => {
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, code, err.message);
    if (param !== undefined) assert.equal(err.param, param);
    if (message) assert.match(err.message, message);
    return true;
  };
  const cardsOnly = { allowed_payment_method_types: ['card'] };

  test('capture: 400 payment_intent_unexpected_state carrying the intent, unconfirmed or succeeded (capture is automatic); an unknown id 404', async () => {
    const open = await sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...cardsOnly });
    await assert.rejects(sb.stripe.paymentIntents.capture(open.id), (err: any) => {
      refused(
        'payment_intent_unexpected_state',
        undefined,
        /could not be captured because it has a status of requires_payment_method/,
      )(err);
      assert.equal(err.payment_intent?.id, open.id);
      return true;
    });
    const paid = await sb.stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      ...cardsOnly,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    assert.equal(paid.status, 'succeeded');
    await assert.rejects(sb.stripe.paymentIntents.capture(paid.id, { amount_to_capture: 500 }), (err: any) => {
      refused('payment_intent_unexpected_state', undefined, /status of succeeded.*requires_capture/)(err);
      assert.equal(err.payment_intent?.status, 'succeeded');
      return true;
    });
    await assert.rejects(
      sb.stripe.paymentIntents.capture('pi_nonexistent'),
      (err: any) => err.statusCode === 404 && err.code === 'resource_missing',
    );
  });

  test('update: an unconfirmed intent takes a new amount, currency and card; the confirmation charges them', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const pi = await sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id, ...cardsOnly });
    assert.equal(pi.status, 'requires_payment_method');
    assert.equal((await sb.stripe.paymentIntents.update(pi.id, { amount: 2000 })).amount, 2000);
    const inEur = await sb.stripe.paymentIntents.update(pi.id, { currency: 'EUR' });
    assert.deepEqual([inEur.amount, inEur.currency], [2000, 'eur']);
    const withCard = await sb.stripe.paymentIntents.update(pi.id, { payment_method: pm.id });
    assert.deepEqual([withCard.status, withCard.payment_method], ['requires_confirmation', pm.id]);
    // Still unconfirmed: the amount may change again.
    assert.equal((await sb.stripe.paymentIntents.update(pi.id, { amount: 2500 })).amount, 2500);
    const paid = await sb.stripe.paymentIntents.confirm(pi.id, { off_session: true });
    assert.deepEqual([paid.status, paid.amount_received, paid.currency], ['succeeded', 2500, 'eur']);
    const charge = await sb.stripe.charges.retrieve(paid.latest_charge as string);
    assert.deepEqual([charge.amount, charge.currency], [2500, 'eur']);

    // Succeeded: none of them changes any more.
    for (const change of [{ amount: 3000 }, { currency: 'usd' }, { payment_method: pm.id }]) {
      const field = Object.keys(change)[0]!;
      await assert.rejects(
        sb.stripe.paymentIntents.update(pi.id, change),
        refused(
          'payment_intent_unexpected_state',
          undefined,
          new RegExp(`${field} could not be updated because it has a status of succeeded`),
        ),
      );
    }
    const after = await sb.stripe.paymentIntents.retrieve(pi.id);
    assert.deepEqual([after.amount, after.currency, after.amount_received], [2500, 'eur', 2500]);
  });

  test('update: the same amount checks as create, on the amount and currency the intent would then have; a bad card refused', async () => {
    const pi = await sb.stripe.paymentIntents.create({ amount: 1005, currency: 'usd', ...cardsOnly });
    await assert.rejects(
      sb.stripe.paymentIntents.update(pi.id, { amount: 10 }),
      refused('amount_too_small', 'amount', /at least \$0\.50 usd/),
    );
    // 1005 is not a whole ten in a three-decimal currency; 1005 huf is below huf's minimum.
    await assert.rejects(
      sb.stripe.paymentIntents.update(pi.id, { currency: 'bhd' }),
      refused('parameter_invalid', 'amount', /three-decimal/),
    );
    await assert.rejects(sb.stripe.paymentIntents.update(pi.id, { currency: 'huf' }), refused('amount_too_small', 'amount'));
    await assert.rejects(sb.stripe.paymentIntents.update(pi.id, { currency: 'xyz' }), refused('parameter_invalid', 'currency'));
    await assert.rejects(sb.stripe.paymentIntents.update(pi.id, { amount: 100_000_000 }), refused('parameter_invalid', 'amount'));
    const someoneElse = await sb.stripe.customers.create({});
    const theirs = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: someoneElse.id });
    const err = await sb.stripe.paymentIntents.update(pi.id, { payment_method: theirs.id }).catch((e: unknown) => e);
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
    assert.equal(err.param, 'payment_method');
    assert.match(err.message, /is attached to a Customer/);
    const unchanged = await sb.stripe.paymentIntents.retrieve(pi.id);
    assert.deepEqual(
      [unchanged.amount, unchanged.currency, unchanged.payment_method, unchanged.status],
      [1005, 'usd', null, 'requires_payment_method'],
    );
    // Together, the pair is checked as create checks it.
    const jpy = await sb.stripe.paymentIntents.update(pi.id, { amount: 500, currency: 'jpy' });
    assert.deepEqual([jpy.amount, jpy.currency], [500, 'jpy']);
  });

  test('create’s parameter refusals are not stored under the Idempotency-Key: the corrected request executes', async () => {
    const cases: [string, Stripe.PaymentIntentCreateParams, Stripe.PaymentIntentCreateParams, string][] = [
      ['below the minimum', { amount: 10, currency: 'usd', ...cardsOnly }, { amount: 100, currency: 'usd', ...cardsOnly }, 'amount'],
      [
        'off_session without confirm',
        { amount: 1000, currency: 'usd', ...cardsOnly, off_session: true },
        { amount: 1000, currency: 'usd', ...cardsOnly },
        'off_session',
      ],
      [
        'types and automatic payment methods together',
        { amount: 1000, currency: 'usd', ...cardsOnly, automatic_payment_methods: { enabled: true } },
        { amount: 1000, currency: 'usd', ...cardsOnly },
        'automatic_payment_methods',
      ],
      [
        'a confirm that could redirect without a return_url',
        { amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true },
        { amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://example.com/back' },
        'return_url',
      ],
    ];
    for (const [name, bad, good, param] of cases) {
      const idempotencyKey = `corrected-${param}`;
      await assert.rejects(sb.stripe.paymentIntents.create(bad, { idempotencyKey }), (err: any) => {
        assert.equal(err.statusCode, 400, name);
        assert.equal(err.param, param, name);
        return true;
      });
      const created = await sb.stripe.paymentIntents.create(good, { idempotencyKey });
      assert.match(created.id, /^pi_/, name);
      assert.equal(created.lastResponse.headers['idempotent-replayed'], undefined, name);
    }
  });
});
