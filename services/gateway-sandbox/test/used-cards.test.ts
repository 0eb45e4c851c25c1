// Cards Stripe will not charge again, through the official SDK: one detached
// from its customer (detach, or the customer deleted), and one used once
// without a customer. Invoicing is tested only against the sandbox, so a card
// removed in Stripe's dashboard must be refused here as it is there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { card, startSandbox, type Sandbox } from './harness.ts';

const CONSUMED =
  /^The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, .*or was detached from a Customer\. It may not be used again\./;
const ATTACH_CONSUMED =
  'This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.';

/** Stripe's 400 for a consumed card: invalid_request_error without a code. */
const consumed = (err: unknown) => {
  assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
  assert.equal(err.statusCode, 400);
  assert.equal(err.code, undefined);
  assert.match(err.message, CONSUMED);
  return true;
};

describe('cards Stripe will not charge again, through the official stripe SDK', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  /** A customer with 4242 saved by a SetupIntent, and an open PaymentIntent for it (as invoicing makes). */
  async function savedCardAndInvoice() {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, '4242424242424242');
    const si = await sb.stripe.setupIntents.create({ customer: customer.id, payment_method: pm.id, confirm: true });
    assert.equal(si.status, 'succeeded');
    const pi = await sb.stripe.paymentIntents.create({
      amount: 4100,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
    });
    return { customer, pm, pi };
  }

  const charges = async (pi: string) => (await sb.stripe.charges.list({ payment_intent: pi })).data.length;

  test('a detached card is refused: confirm 400 invalid_request_error, no charge; it cannot be attached or used again', async () => {
    const { customer, pm, pi } = await savedCardAndInvoice();
    await sb.stripe.paymentMethods.detach(pm.id);
    await assert.rejects(sb.stripe.paymentIntents.confirm(pi.id, { payment_method: pm.id, off_session: true }), consumed);
    const after = await sb.stripe.paymentIntents.retrieve(pi.id);
    assert.equal(after.status, 'requires_payment_method');
    assert.equal(await charges(pi.id), 0);
    await assert.rejects(sb.stripe.paymentMethods.attach(pm.id, { customer: customer.id }), (err: any) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.message, ATTACH_CONSUMED);
      return true;
    });
    await assert.rejects(
      sb.stripe.paymentIntents.create({ amount: 500, currency: 'usd', allowed_payment_method_types: ['card'], payment_method: pm.id }),
      consumed,
    );
    await assert.rejects(sb.stripe.setupIntents.create({ payment_method: pm.id, confirm: true }), consumed);
    // The customer's other cards are unaffected.
    const other = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const paid = await sb.stripe.paymentIntents.confirm(pi.id, { payment_method: other.id, off_session: true });
    assert.equal(paid.status, 'succeeded');
  });

  test('a deleted customer’s intent cannot be confirmed (resource_missing customer); its detached cards are refused anywhere', async () => {
    const { customer, pm, pi } = await savedCardAndInvoice();
    await sb.stripe.customers.del(customer.id);
    await assert.rejects(sb.stripe.paymentIntents.confirm(pi.id, { payment_method: pm.id, off_session: true }), (err: any) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
      assert.deepEqual([err.code, err.param, err.message], ['resource_missing', 'customer', `No such customer: '${customer.id}'`]);
      return true;
    });
    await assert.rejects(sb.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', off_session: true }), (err: any) => {
      return err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'resource_missing';
    });
    assert.equal(await charges(pi.id), 0);
    const elsewhere = await sb.stripe.paymentIntents.create({ amount: 500, currency: 'usd', allowed_payment_method_types: ['card'] });
    await assert.rejects(sb.stripe.paymentIntents.confirm(elsewhere.id, { payment_method: pm.id }), consumed);
    assert.equal(await charges(elsewhere.id), 0);
  });

  test('a card never attached is good for one payment attempt, paid or declined; saving it (setup_future_usage, SetupIntent) keeps it', async () => {
    const once = { amount: 800, currency: 'usd', allowed_payment_method_types: ['card'], confirm: true };
    const visa = await card(sb, '4242424242424242');
    assert.equal((await sb.stripe.paymentIntents.create({ ...once, payment_method: visa.id })).status, 'succeeded');
    await assert.rejects(sb.stripe.paymentIntents.create({ ...once, payment_method: visa.id }), consumed);

    const declining = await card(sb, '4000000000000002');
    const pi = await sb.stripe.paymentIntents.create({ amount: 800, currency: 'usd', allowed_payment_method_types: ['card'] });
    await assert.rejects(sb.stripe.paymentIntents.confirm(pi.id, { payment_method: declining.id }), Stripe.errors.StripeCardError);
    await assert.rejects(sb.stripe.paymentIntents.confirm(pi.id, { payment_method: declining.id }), consumed);
    assert.equal(await charges(pi.id), 1, 'the declined attempt only');

    const customer = await sb.stripe.customers.create({});
    const saved = await card(sb, '4242424242424242');
    const first = await sb.stripe.paymentIntents.create({
      ...once,
      customer: customer.id,
      payment_method: saved.id,
      setup_future_usage: 'off_session',
    });
    assert.equal(first.status, 'succeeded');
    const next = { ...once, customer: customer.id, payment_method: saved.id, off_session: true };
    assert.equal((await sb.stripe.paymentIntents.create(next)).status, 'succeeded');

    const setUp = await card(sb, '4242424242424242');
    assert.equal((await sb.stripe.setupIntents.create({ payment_method: setUp.id, confirm: true })).status, 'succeeded');
    assert.equal((await sb.stripe.paymentMethods.attach(setUp.id, { customer: customer.id })).customer, customer.id);
    assert.equal((await sb.stripe.paymentIntents.create({ ...next, payment_method: setUp.id })).status, 'succeeded');
  });
});
