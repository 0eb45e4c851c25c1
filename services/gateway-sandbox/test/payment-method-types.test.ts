// The payment-method-types params as API 2026-10-28.endive and SDK v23's types name them:
// allowed_payment_method_types on PaymentIntent create/update/confirm and SetupIntent
// create/update/confirm; the removed payment_method_types is Stripe's 400
// payment_method_types_no_longer_supported; both objects show allowed_/excluded_payment_method_types.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { startSandbox, type Sandbox } from './harness.ts';

const removed = (err: any) =>
  err instanceof Stripe.errors.StripeInvalidRequestError &&
  err.statusCode === 400 &&
  err.code === 'payment_method_types_no_longer_supported' &&
  err.param === 'payment_method_types';

describe('payment method types on this API version', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  test('SetupIntent: create, update and confirm take allowed_payment_method_types; payment_method_types is refused', async () => {
    const customer = await sb.stripe.customers.create({});
    const si = await sb.stripe.setupIntents.create({ customer: customer.id, allowed_payment_method_types: ['card'] });
    assert.deepEqual(si.allowed_payment_method_types, ['card']);
    assert.equal(si.excluded_payment_method_types, null);
    assert.deepEqual(si.payment_method_types, ['card']);
    const updated = await sb.stripe.setupIntents.update(si.id, { allowed_payment_method_types: ['card'] });
    assert.deepEqual(updated.allowed_payment_method_types, ['card']);
    const confirmed = await sb.stripe.setupIntents.confirm(si.id, {
      payment_method: 'pm_card_visa',
      allowed_payment_method_types: ['card'],
    });
    assert.equal(confirmed.status, 'succeeded');

    const old = { customer: customer.id, payment_method_types: ['card'] } as Stripe.SetupIntentCreateParams;
    await assert.rejects(sb.stripe.setupIntents.create(old), removed);
    await assert.rejects(
      sb.stripe.setupIntents.update(si.id, { payment_method_types: ['card'] } as Stripe.SetupIntentUpdateParams),
      removed,
    );
    const { rows } = await sb.db.pool.query('select count(*)::int as n from gateway_sandbox.setup_intents');
    assert.equal(rows[0].n, 1, 'nothing created by the refused call');
  });

  test('PaymentIntent: payment_method_types is refused on create, update and confirm', async () => {
    const old = { amount: 1000, currency: 'usd', payment_method_types: ['card'] } as Stripe.PaymentIntentCreateParams;
    await assert.rejects(sb.stripe.paymentIntents.create(old), removed);
    const pi = await sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', allowed_payment_method_types: ['card'] });
    assert.deepEqual(pi.allowed_payment_method_types, ['card']);
    assert.equal(pi.excluded_payment_method_types, null);
    await assert.rejects(
      sb.stripe.paymentIntents.update(pi.id, { payment_method_types: ['card'] } as Stripe.PaymentIntentUpdateParams),
      removed,
    );
    await assert.rejects(
      sb.stripe.paymentIntents.confirm(pi.id, {
        payment_method: 'pm_card_visa',
        payment_method_types: ['card'],
      } as Stripe.PaymentIntentConfirmParams),
      removed,
    );
  });

  test('PaymentIntent: allowed_payment_method_types on update or confirm replaces automatic payment methods (no return_url needed)', async () => {
    const automatic = await sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    assert.equal(automatic.allowed_payment_method_types, null);
    assert.equal(automatic.automatic_payment_methods?.enabled, true);
    const restricted = await sb.stripe.paymentIntents.update(automatic.id, { allowed_payment_method_types: ['card'] });
    assert.deepEqual(restricted.allowed_payment_method_types, ['card']);
    assert.equal(restricted.automatic_payment_methods, null);
    assert.equal((await sb.stripe.paymentIntents.confirm(automatic.id, { payment_method: 'pm_card_visa' })).status, 'succeeded');

    const other = await sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const paid = await sb.stripe.paymentIntents.confirm(other.id, {
      payment_method: 'pm_card_visa',
      allowed_payment_method_types: ['card'],
    });
    assert.equal(paid.status, 'succeeded');
    assert.deepEqual(paid.allowed_payment_method_types, ['card']);

    await assert.rejects(
      sb.stripe.paymentIntents.update(paid.id, { allowed_payment_method_types: ['card'] }),
      (err: any) => err.code === 'payment_intent_unexpected_state',
    );
    await assert.rejects(
      sb.stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        allowed_payment_method_types: ['card'],
        automatic_payment_methods: { enabled: true },
      }),
      (err: any) => err.param === 'automatic_payment_methods' && /allowed_payment_method_types/.test(err.message),
    );
  });
});
