// The sandbox's own transactions under concurrency (issue 21's search for lock
// inversions): PaymentIntents created and confirmed in one request on the same
// card at once, while webhook endpoints come and go under the events they emit;
// one PaymentIntent confirmed five times at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deadlocksIn } from '@vault/testkit';
import { card, raw, startSandbox, type Sandbox } from './harness.ts';

describe('the sandbox under concurrent requests (real PostgreSQL)', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(() => sb.close());

  test('create-and-confirm on one card, four at a time, while endpoints are deleted: every request answered, no deadlock', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, '4242424242424242');
    await sb.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    const before = await deadlocksIn(sb.db.pool);
    let endpoints = 0;
    for (let round = 0; round < 15; round++) {
      // Each emits payment_intent.created/succeeded and charge.succeeded to whichever endpoints exist.
      const endpoint = await sb.stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hook', enabled_events: ['*'] });
      const intents = Array.from({ length: 4 }, () =>
        sb.stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          allowed_payment_method_types: ['card'],
          customer: customer.id,
          payment_method: pm.id,
          confirm: true,
          off_session: true,
        }),
      );
      const [deleted, ...created] = await Promise.all([sb.stripe.webhookEndpoints.del(endpoint.id), ...intents]);
      assert.equal(deleted.deleted, true);
      for (const pi of created) assert.equal(pi.status, 'succeeded');
      endpoints++;
    }
    assert.equal(endpoints, 15);
    const errors = sb.log.lines.filter((l) => l.includes('at=error') || l.includes('event=db.transaction_retry'));
    assert.deepEqual(errors, [], 'no request failed or had to be retried');
    assert.equal((await deadlocksIn(sb.db.pool)) - before, 0, 'PostgreSQL broke no deadlock');
  });

  test('five concurrent confirms of one payment intent (different keys): exactly one charges', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, '4242424242424242');
    await sb.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    const pi = await sb.stripe.paymentIntents.create({
      amount: 2500,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
    });
    const answers = await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        raw(sb.url, 'POST', `/v1/payment_intents/${pi.id}/confirm`, {
          form: { payment_method: pm.id, off_session: 'true' },
          idempotencyKey: `race-${i}`,
        }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400, 400, 400, 400]);
    for (const a of answers.filter((x) => x.status === 400)) assert.equal(a.body.error.code, 'payment_intent_unexpected_state');
    const charges = await sb.stripe.charges.list({ payment_intent: pi.id });
    assert.deepEqual(
      charges.data.map((c) => c.status),
      ['succeeded'],
    );
  });
});
