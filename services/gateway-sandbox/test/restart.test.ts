// The sandbox as a real process (main.ts through runApp): state and undelivered
// events survive kill -9; the delivery loop in the process delivers them after restart.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { eventually, freePort, freshDatabase, startService, type RunningService, type TestDatabase } from '@vault/testkit';
import { card, raw, SK } from './harness.ts';

describe('the sandbox process survives kill -9', () => {
  let db: TestDatabase;
  let port: number;
  let service: RunningService | undefined;
  let hookServer: Server;
  let hookStatus = 503;
  const received: { body: string; signature: string }[] = [];

  const start = async () => {
    service = await startService('gateway-sandbox', { DATABASE_URL: db.url, GATEWAY_PORT: String(port), HOST: '127.0.0.1' });
    return new Stripe(SK, { host: 'localhost', port, protocol: 'http', maxNetworkRetries: 0 });
  };

  before(async () => {
    db = await freshDatabase('gateway_restart');
    port = await freePort();
    hookServer = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      received.push({ body, signature: String(req.headers['stripe-signature']) });
      res.writeHead(hookStatus).end();
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await service?.kill('SIGKILL');
    hookServer.close();
    await db.drop();
  });

  test('customers, cards, intents and an undelivered event are all there after kill -9 and restart', async () => {
    let stripe = await start();
    const { port: hookPort } = hookServer.address() as { port: number };
    const endpoint = await stripe.webhookEndpoints.create({
      url: `http://127.0.0.1:${hookPort}/hook`,
      enabled_events: ['payment_intent.succeeded'],
    });
    const customer = await stripe.customers.create({ email: 'survivor@example.com' });
    const pm = await card(stripe, '4242424242424242');
    const si = await stripe.setupIntents.create({ customer: customer.id, payment_method: pm.id, confirm: true });
    const pi = await stripe.paymentIntents.create(
      { amount: 4200, currency: 'usd', customer: customer.id, payment_method: pm.id, confirm: true, off_session: true },
      { idempotencyKey: 'survive-1' },
    );
    assert.equal(pi.status, 'succeeded');
    await eventually('a first (refused) delivery attempt', () => received.length >= 1, 10_000);
    await service!.kill('SIGKILL');

    hookStatus = 200;
    stripe = await start();
    assert.equal(((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).email, 'survivor@example.com');
    assert.equal((await stripe.paymentMethods.retrieve(pm.id)).customer, customer.id);
    assert.equal((await stripe.setupIntents.retrieve(si.id)).status, 'succeeded');
    assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded');
    // The idempotency record survived too: the same key replays the answer.
    const replay = await stripe.paymentIntents.create(
      { amount: 4200, currency: 'usd', customer: customer.id, payment_method: pm.id, confirm: true, off_session: true },
      { idempotencyKey: 'survive-1' },
    );
    assert.equal(replay.id, pi.id);
    assert.equal(replay.lastResponse.headers['idempotent-replayed'], 'true');
    await eventually('the event delivered by the restarted process', () => received.length >= 2, 20_000);
    const last = received.at(-1)!;
    const event = Stripe.webhooks.constructEvent(last.body, last.signature, endpoint.secret!);
    assert.equal(event.type, 'payment_intent.succeeded');
    assert.equal((event.data.object as Stripe.PaymentIntent).id, pi.id);
    assert.ok(service!.lines.some((l) => l.includes('event=gateway.webhook_delivered') && l.includes(`event_id=${event.id}`)));
    assert.ok(!service!.lines.some((l) => l.includes('4242424242424242') || /cvc/i.test(l)), 'card data in the process log');
    await service!.kill('SIGKILL');
  });

  test('killed after commit, before answering (GATEWAY_SANDBOX_LATENCY_MS): the retry with the same key gets the committed answer', async () => {
    service = await startService('gateway-sandbox', {
      DATABASE_URL: db.url,
      GATEWAY_PORT: String(port),
      HOST: '127.0.0.1',
      GATEWAY_SANDBOX_LATENCY_MS: '3000',
    });
    const form = { email: 'in-flight@example.com' };
    const lost = raw(service.url, 'POST', '/v1/customers', { form, idempotencyKey: 'lost-answer' }).catch((e: Error) => e);
    await eventually(
      'the customer committed',
      async () => {
        const { rows } = await db.pool
          .query(`select count(*)::int as n from gateway_sandbox.customers where email = 'in-flight@example.com'`)
          .catch(() => ({ rows: [{ n: 0 }] }));
        return rows[0].n === 1;
      },
      10_000,
    );
    await service.kill('SIGKILL');
    assert.ok((await lost) instanceof Error, 'the client never got its answer');
    const stripe = await start();
    const retried = await stripe.customers.create({ email: 'in-flight@example.com' }, { idempotencyKey: 'lost-answer' });
    assert.equal(retried.lastResponse.headers['idempotent-replayed'], 'true');
    const { rows } = await db.pool.query(`select id from gateway_sandbox.customers where email = 'in-flight@example.com'`);
    assert.deepEqual(
      rows.map((r) => r.id),
      [retried.id],
    );
  });
});
