// A 500 of an endpoint that began executing, under an Idempotency-Key: Stripe saves it
// ("Retries with the same key return the saved response, including 500 errors"), so a
// retry under the key acts never, not twice. The 500 is injected by the harness's
// test-only fault switch (deps.faultAfterWork), after the endpoint ran, before its answer is stored.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { raw, startSandbox, type Sandbox } from './harness.ts';

describe('a 500 under an idempotency key is stored and replayed, as Stripe saves it', () => {
  let sb: Sandbox;
  /** The path whose requests fail with an injected 500 (none: null). */
  let failing: string | null = null;
  /** The SQLSTATE the injected fault carries (none: a plain error). */
  let failingCode: string | undefined;
  before(async () => {
    sb = await startSandbox({
      faultAfterWork: (path) => {
        if (path === failing) throw Object.assign(new Error('injected fault'), failingCode ? { code: failingCode } : {});
      },
    });
  });
  after(async () => {
    failing = null;
    await sb?.close();
  });

  const count = async (sql: string, args: unknown[]) => (await sb.db.pool.query<{ n: number }>(sql, args)).rows[0]!.n;

  test('a confirm failing with a 500 after charging: nothing kept; its retry under the key replays the 500 and charges nothing; a new key charges once', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const pi = await sb.stripe.paymentIntents.create({
      amount: 1500,
      currency: 'usd',
      customer: customer.id,
      payment_method: pm.id,
      allowed_payment_method_types: ['card'],
    });
    const confirm = (key: string) => sb.stripe.paymentIntents.confirm(pi.id, { off_session: true }, { idempotencyKey: key });
    failing = `/v1/payment_intents/${pi.id}/confirm`;
    let firstRequest: string | undefined;
    await assert.rejects(confirm('confirm-500'), (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeAPIError, String(err));
      assert.equal(err.statusCode, 500);
      assert.equal(err.type, 'StripeAPIError');
      // A retry would replay it: the SDK is told not to.
      assert.equal(err.headers?.['stripe-should-retry'], 'false');
      assert.equal(err.headers?.['idempotent-replayed'], undefined);
      firstRequest = err.requestId;
      return true;
    });
    failing = null;
    // The endpoint would now succeed: the key's answer is still the 500, and nothing is charged.
    await assert.rejects(confirm('confirm-500'), (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeAPIError, String(err));
      assert.equal(err.statusCode, 500);
      assert.equal(err.headers?.['idempotent-replayed'], 'true');
      assert.equal(err.headers?.['original-request'], firstRequest);
      assert.match(err.message, new RegExp(`request ${firstRequest}`));
      return true;
    });
    const charged = 'select count(*)::int as n from gateway_sandbox.charges where payment_intent = $1';
    assert.equal(await count(charged, [pi.id]), 0);
    const events = `select count(*)::int as n from gateway_sandbox.events where type in ('payment_intent.succeeded', 'charge.succeeded')
                     and data->'object'->>'id' = any($1)`;
    assert.equal(await count(events, [[pi.id]]), 0);
    assert.equal((await sb.stripe.paymentIntents.retrieve(pi.id)).status, 'requires_confirmation');
    // A new key is a new request: it charges, once.
    const paid = await confirm('confirm-500-again');
    assert.equal(paid.status, 'succeeded');
    assert.equal(await count(charged, [pi.id]), 1);
  });

  test('the stored 500 replays byte for byte; the key with other params is idempotency_error; without a key nothing is stored', async () => {
    const form = { email: 'five-hundred@example.com' };
    failing = '/v1/customers';
    const first = await raw(sb.url, 'POST', '/v1/customers', { form, idempotencyKey: 'customer-500' });
    const unkeyed = await raw(sb.url, 'POST', '/v1/customers', { form });
    failing = null;
    assert.equal(first.status, 500);
    assert.equal(first.body.error.type, 'api_error');
    assert.equal(unkeyed.status, 500);
    // No key, nothing stored: the error handler's answer, which asks for a retry.
    assert.equal(unkeyed.headers.get('stripe-should-retry'), 'true');
    const again = await raw(sb.url, 'POST', '/v1/customers', { form, idempotencyKey: 'customer-500' });
    assert.equal(again.status, 500);
    assert.deepEqual(again.body, first.body);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    const other = await raw(sb.url, 'POST', '/v1/customers', { form: { email: 'other@example.com' }, idempotencyKey: 'customer-500' });
    assert.equal(other.status, 400);
    assert.equal(other.body.error.type, 'idempotency_error');
    const made = `select count(*)::int as n from gateway_sandbox.customers where email = any($1)`;
    assert.equal(await count(made, [['five-hundred@example.com', 'other@example.com']]), 0);
    assert.equal((await raw(sb.url, 'POST', '/v1/customers', { form, idempotencyKey: 'customer-500-b' })).status, 200);
    assert.equal(await count(made, [['five-hundred@example.com']]), 1);
  });

  test('a conflict with concurrent requests (a deadlock, its retries spent) is not stored: the retry under the key runs', async () => {
    const form = { email: 'deadlocked@example.com' };
    failing = '/v1/customers';
    failingCode = '40P01';
    const first = await raw(sb.url, 'POST', '/v1/customers', { form, idempotencyKey: 'customer-deadlock' });
    failing = null;
    failingCode = undefined;
    assert.equal(first.status, 500);
    // Not the key's answer: the SDK may retry it.
    assert.equal(first.headers.get('stripe-should-retry'), 'true');
    const again = await raw(sb.url, 'POST', '/v1/customers', { form, idempotencyKey: 'customer-deadlock' });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), null);
    const made = `select count(*)::int as n from gateway_sandbox.customers where email = $1`;
    assert.equal(await count(made, ['deadlocked@example.com']), 1);
  });
});
