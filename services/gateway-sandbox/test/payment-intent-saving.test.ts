// A PaymentIntent's customer and setup_future_usage set by update (POST /v1/payment_intents/:id)
// before it is confirmed, as Stripe takes them, through the official SDK: the confirmation then
// saves the card to that customer, as it does when they were given at creation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { startSandbox, type Sandbox } from './harness.ts';

describe('PaymentIntent update: customer and setup_future_usage, as Stripe’s', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb?.close();
  });

  const cardsOnly = { allowed_payment_method_types: ['card'] };
  const refused = (status: number, code: string, param?: string, message?: RegExp) => (err: unknown) => {
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
    assert.equal(err.statusCode, status);
    assert.equal(err.code, code, err.message);
    if (param !== undefined) assert.equal(err.param, param);
    if (message) assert.match(err.message, message);
    return true;
  };

  test('set on an unconfirmed intent, then confirmed off-session: the card is attached to that customer', async () => {
    const customer = await sb.stripe.customers.create({ email: 'saver@example.com' });
    const pi = await sb.stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', ...cardsOnly });
    assert.deepEqual([pi.customer, pi.setup_future_usage, pi.status], [null, null, 'requires_confirmation']);
    const updated = await sb.stripe.paymentIntents.update(pi.id, { customer: customer.id, setup_future_usage: 'off_session' });
    assert.deepEqual([updated.customer, updated.setup_future_usage, updated.status], [customer.id, 'off_session', 'requires_confirmation']);
    const paid = await sb.stripe.paymentIntents.confirm(pi.id, { off_session: true });
    assert.equal(paid.status, 'succeeded');
    const card = await sb.stripe.paymentMethods.retrieve(paid.payment_method as string);
    assert.equal(card.customer, customer.id);
    const listed = await sb.stripe.customers.listPaymentMethods(customer.id);
    assert.deepEqual(
      listed.data.map((m) => m.id),
      [card.id],
    );
    // Saved: it pays again for that customer.
    const again = await sb.stripe.paymentIntents.create({
      amount: 800,
      currency: 'usd',
      customer: customer.id,
      payment_method: card.id,
      confirm: true,
      off_session: true,
      ...cardsOnly,
    });
    assert.equal(again.status, 'succeeded');
  });

  test('a customer and its card given together; on_session then unset with an empty value: the card is not saved', async () => {
    const customer = await sb.stripe.customers.create({});
    const theirs = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const pi = await sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...cardsOnly });
    // The card is checked against the customer the intent is to have.
    const both = await sb.stripe.paymentIntents.update(pi.id, { customer: customer.id, payment_method: theirs.id });
    assert.deepEqual([both.customer, both.payment_method], [customer.id, theirs.id]);

    const other = await sb.stripe.customers.create({});
    const loose = await sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', ...cardsOnly });
    const onSession = await sb.stripe.paymentIntents.update(loose.id, { customer: other.id, setup_future_usage: 'on_session' });
    assert.equal(onSession.setup_future_usage, 'on_session');
    const unset = await sb.stripe.paymentIntents.update(loose.id, { setup_future_usage: '' });
    assert.equal(unset.setup_future_usage, null);
    const paid = await sb.stripe.paymentIntents.confirm(loose.id, { off_session: true });
    assert.equal(paid.status, 'succeeded');
    assert.equal((await sb.stripe.paymentMethods.retrieve(paid.payment_method as string)).customer, null);
  });

  test('refused: an unknown or deleted customer, a customer whose card is another’s, a bad value, and once succeeded', async () => {
    const pi = await sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...cardsOnly });
    await assert.rejects(
      sb.stripe.paymentIntents.update(pi.id, { customer: 'cus_missing' }),
      refused(404, 'resource_missing', 'customer', /No such customer: 'cus_missing'/),
    );
    const gone = await sb.stripe.customers.create({});
    await sb.stripe.customers.del(gone.id);
    await assert.rejects(sb.stripe.paymentIntents.update(pi.id, { customer: gone.id }), refused(404, 'resource_missing', 'customer'));
    await assert.rejects(
      sb.stripe.paymentIntents.update(pi.id, { setup_future_usage: 'sometimes' as 'on_session' }),
      refused(400, 'parameter_invalid', 'setup_future_usage'),
    );

    const owner = await sb.stripe.customers.create({});
    const card = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: owner.id });
    const held = await sb.stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      customer: owner.id,
      payment_method: card.id,
      ...cardsOnly,
    });
    const stranger = await sb.stripe.customers.create({});
    const err = await sb.stripe.paymentIntents.update(held.id, { customer: stranger.id }).catch((e: unknown) => e);
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
    assert.equal(err.param, 'customer');
    assert.match(err.message, /belongs to a different Customer/);
    assert.equal((await sb.stripe.paymentIntents.retrieve(held.id)).customer, owner.id);

    const paid = await sb.stripe.paymentIntents.confirm(held.id, { off_session: true });
    assert.equal(paid.status, 'succeeded');
    for (const change of [{ customer: stranger.id }, { setup_future_usage: 'off_session' as const }]) {
      const field = Object.keys(change)[0]!;
      await assert.rejects(
        sb.stripe.paymentIntents.update(held.id, change),
        refused(
          400,
          'payment_intent_unexpected_state',
          undefined,
          new RegExp(`${field} could not be updated because it has a status of succeeded`),
        ),
      );
    }
  });
});
