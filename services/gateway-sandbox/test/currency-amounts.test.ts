// Amounts per currency as Stripe documents them (https://docs.stripe.com/currencies): a three-decimal
// currency's amount ends in 0, ISK and UGX are whole units sent with two decimals (divisible by 100),
// and a currency Stripe does not present is refused naming `currency`. Nothing is created by a refusal.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { startSandbox, type Sandbox } from './harness.ts';

describe('amounts per currency', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  const create = (amount: number, currency: string) =>
    sb.stripe.paymentIntents.create({ amount, currency, allowed_payment_method_types: ['card'] }).catch((e: unknown) => e);

  test('KWD 1.005 is refused naming amount; KWD 1.010 is created; BHD, JOD, OMR and TND alike', async () => {
    const odd = await create(1005, 'kwd');
    assert.ok(odd instanceof Stripe.errors.StripeInvalidRequestError, String(odd));
    assert.equal(odd.param, 'amount');
    assert.match(odd.message, /three-decimal/);
    assert.equal(((await create(1010, 'kwd')) as Stripe.PaymentIntent).amount, 1010);
    for (const currency of ['bhd', 'jod', 'omr', 'tnd']) {
      assert.equal(((await create(1001, currency)) as Stripe.StripeRawError).param, 'amount', currency);
    }
  });

  test('ISK and UGX must be divisible by 100', async () => {
    assert.equal(((await create(150, 'isk')) as Stripe.StripeRawError).param, 'amount');
    assert.equal(((await create(500, 'isk')) as Stripe.PaymentIntent).status, 'requires_payment_method');
    assert.equal(((await create(1050, 'ugx')) as Stripe.StripeRawError).param, 'amount');
  });

  test('an unknown currency is a 400 naming currency; a known one in capitals is lower-cased', async () => {
    const unknown = await create(1000, 'xyz');
    assert.ok(unknown instanceof Stripe.errors.StripeInvalidRequestError, String(unknown));
    assert.equal(unknown.param, 'currency');
    assert.match(unknown.message, /^Invalid currency: xyz\. Stripe currently supports these currencies: usd, /);
    assert.equal(((await create(1000, 'EUR')) as Stripe.PaymentIntent).currency, 'eur');
    const { rows } = await sb.db.pool.query(`select currency, amount from gateway_sandbox.payment_intents order by seq`);
    assert.deepEqual(
      rows.map((r) => `${r.amount} ${r.currency}`),
      ['1010 kwd', '500 isk', '1000 eur'],
    );
  });
});
