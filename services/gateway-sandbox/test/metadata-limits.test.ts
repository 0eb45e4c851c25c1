// Stripe's metadata limits (https://docs.stripe.com/metadata: 50 keys, keys of at most 40 characters
// without square brackets, values of at most 500) hold on the object after an update merges keys in,
// not only on the request; a refusal names the key.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { raw, startSandbox, type Sandbox } from './harness.ts';

const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`key_${i}`, 'v']));

const tooMany = (err: any) =>
  err instanceof Stripe.errors.StripeInvalidRequestError &&
  err.statusCode === 400 &&
  err.param === 'metadata' &&
  /at most 50 keys/.test(err.message);

describe('metadata limits', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  test('an update that would leave 51 keys is a 400 naming metadata, and changes nothing; replacing or removing a key still works', async () => {
    const customer = await sb.stripe.customers.create({ metadata: fifty });
    await assert.rejects(sb.stripe.customers.update(customer.id, { metadata: { extra: 'x' } }), tooMany);
    assert.equal(Object.keys(((await sb.stripe.customers.retrieve(customer.id)) as Stripe.Customer).metadata).length, 50);
    const replaced = await sb.stripe.customers.update(customer.id, { metadata: { key_0: 'w', key_1: '', extra: 'x' } });
    assert.equal(Object.keys(replaced.metadata).length, 50);
    assert.equal(replaced.metadata.key_0, 'w');

    const pi = await sb.stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      metadata: fifty,
    });
    await assert.rejects(sb.stripe.paymentIntents.update(pi.id, { metadata: { extra: 'x' } }), tooMany);
    const si = await sb.stripe.setupIntents.create({ metadata: fifty });
    await assert.rejects(sb.stripe.setupIntents.update(si.id, { metadata: { extra: 'x' } }), tooMany);
    const endpoint = await sb.stripe.webhookEndpoints.create({
      url: 'http://127.0.0.1:9/hook',
      enabled_events: ['charge.refunded'],
      metadata: fifty,
    });
    await assert.rejects(sb.stripe.webhookEndpoints.update(endpoint.id, { metadata: { extra: 'x' } }), tooMany);
  });

  test('a key with square brackets, a 41-character key and a 501-character value are refused, naming the key', async () => {
    const bracket = await raw(sb.url, 'POST', '/v1/customers', { form: { 'metadata[a[b]]': 'v' } });
    assert.equal(bracket.status, 400);
    assert.equal(bracket.body.error.param, 'metadata[a[b]]');
    assert.match(bracket.body.error.message, /square brackets/);

    const long = 'k'.repeat(41);
    const longKey = await sb.stripe.customers.create({ metadata: { [long]: 'v' } }).catch((e: unknown) => e);
    assert.ok(longKey instanceof Stripe.errors.StripeInvalidRequestError);
    assert.equal(longKey.param, `metadata[${long}]`);
    assert.match(longKey.message, /at most 40 characters/);

    const longValue = await sb.stripe.customers.create({ metadata: { note: 'x'.repeat(501) } }).catch((e: unknown) => e);
    assert.ok(longValue instanceof Stripe.errors.StripeInvalidRequestError);
    assert.equal(longValue.param, 'metadata[note]');
    assert.match(longValue.message, /at most 500 characters/);

    const { rows } = await sb.db.pool.query(
      `select count(*)::int as n from gateway_sandbox.customers where metadata ? 'note' or metadata ? 'a[b]'`,
    );
    assert.equal(rows[0].n, 0);
  });
});
