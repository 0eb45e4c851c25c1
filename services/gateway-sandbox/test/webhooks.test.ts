// Webhook endpoints and delivery: signed so the SDK's constructEvent accepts
// it, at-least-once (a non-2xx is delivered again), in the event's order of creation.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { eventually } from '@vault/testkit';
import { card, startSandbox, type Sandbox } from './harness.ts';

interface Received {
  body: string;
  signature: string;
  path: string | undefined;
  authorization: string | undefined;
}

/** A local endpoint answering `status()` for each request, keeping what it got. */
async function receiver(status: (n: number) => number): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    got.push({ body, signature: String(req.headers['stripe-signature']), path: req.url, authorization: req.headers.authorization });
    res.writeHead(status(got.length)).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hooks`, got, server };
}

describe('webhooks', () => {
  let sb: Sandbox;
  const servers: Server[] = [];
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
    for (const s of servers) s.close();
  });

  test('events are delivered signed; constructEvent accepts them; a non-2xx is redelivered', async () => {
    const hook = await receiver((n) => (n === 1 ? 500 : 200));
    servers.push(hook.server);
    const endpoint = await sb.stripe.webhookEndpoints.create({
      url: hook.url,
      enabled_events: ['payment_intent.succeeded', 'customer.created'],
    });
    assert.match(endpoint.id, /^we_/);
    assert.match(endpoint.secret!, /^whsec_/);
    assert.equal((await sb.stripe.webhookEndpoints.retrieve(endpoint.id)).secret, undefined);
    const customer = await sb.stripe.customers.create({ email: 'hook@example.com' });
    await eventually('the first event delivered after a 500', () => hook.got.length >= 2, 10_000);
    assert.equal(
      hook.got[0]!.body,
      hook.got[1]!.body.replace(/"pending_webhooks": \d+/, hook.got[0]!.body.match(/"pending_webhooks": \d+/)![0]),
    );
    const event = Stripe.webhooks.constructEvent(hook.got[1]!.body, hook.got[1]!.signature, endpoint.secret!);
    assert.equal(event.type, 'customer.created');
    assert.equal((event.data.object as Stripe.Customer).id, customer.id);
    assert.match(event.request!.id!, /^req_/);
    assert.throws(() => Stripe.webhooks.constructEvent(hook.got[1]!.body, hook.got[1]!.signature, 'whsec_wrong'));

    const pm = await card(sb, '4242424242424242');
    const pi = await sb.stripe.paymentIntents.create(
      {
        amount: 700,
        currency: 'usd',
        allowed_payment_method_types: ['card'],
        customer: customer.id,
        payment_method: pm.id,
        confirm: true,
        off_session: true,
      },
      { idempotencyKey: 'pay-1' },
    );
    await eventually(
      'payment_intent.succeeded delivered',
      () => hook.got.some((g) => g.body.includes('"payment_intent.succeeded"')),
      10_000,
    );
    const got = hook.got.find((g) => g.body.includes('"payment_intent.succeeded"'))!;
    const succeeded = Stripe.webhooks.constructEvent(got.body, got.signature, endpoint.secret!);
    assert.equal((succeeded.data.object as Stripe.PaymentIntent).id, pi.id);
    assert.equal(succeeded.request!.idempotency_key, 'pay-1');
    // Not subscribed: charge.succeeded never comes.
    assert.ok(!hook.got.some((g) => g.body.includes('"charge.succeeded"')));
    const delivered = await sb.db.pool.query(
      `select attempts, delivered_at is not null as done, last_status from gateway_sandbox.deliveries where endpoint_id = $1 order by attempts desc`,
      [endpoint.id],
    );
    assert.deepEqual(delivered.rows[0], { attempts: 2, done: true, last_status: 200 });
    assert.ok(sb.log.lines.some((l) => l.includes('event=gateway.webhook_failed') && l.includes('status=500')));
    assert.ok(sb.log.lines.some((l) => l.includes('event=gateway.webhook_delivered') && l.includes(`endpoint=${endpoint.id}`)));
  });

  test('a pass delivering several events at once queries its one client in turn: node-pg never warns of overlapping queries', async () => {
    // node-pg 8 queues a query sent while its client is busy and warns once (a DeprecationWarning on the
    // demo's console, "will be removed in pg@9.0"); pg 9 refuses it.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      // Refused until all four have failed at least once (each then retries on its own schedule), so
      // none is delivered before they are made due together.
      let refusing = true;
      const hook = await receiver(() => (refusing ? 500 : 200));
      servers.push(hook.server);
      const endpoint = await sb.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['customer.created'] });
      for (let i = 0; i < 4; i++) await sb.stripe.customers.create({ email: `many-${i}@example.com` });
      const failed = `select count(*)::int as n from gateway_sandbox.deliveries where endpoint_id = $1 and attempts >= 1 and delivered_at is null`;
      await eventually('four deliveries failed', async () => (await sb.db.pool.query(failed, [endpoint.id])).rows[0].n === 4, 20_000);
      refusing = false;
      // All four due at once: the next pass takes them together.
      await sb.db.pool.query(`update gateway_sandbox.deliveries set next_attempt_at = now() - interval '1 second' where endpoint_id = $1`, [
        endpoint.id,
      ]);
      await eventually(
        'four delivered',
        async () =>
          (
            await sb.db.pool.query(
              `select count(*)::int as n from gateway_sandbox.deliveries where endpoint_id = $1 and delivered_at is not null`,
              [endpoint.id],
            )
          ).rows[0].n === 4,
        20_000,
      );
      const passes = sb.log.lines.filter((l) => l.includes('event=gateway.webhook_delivered') && l.includes(`endpoint=${endpoint.id}`));
      assert.equal(passes.length, 4);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        warnings.filter((w) => w.includes('already executing a query')),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  test("'*' subscribes to every event; events are listed and retrieved", async () => {
    const hook = await receiver(() => 204);
    servers.push(hook.server);
    const endpoint = await sb.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
    const customer = await sb.stripe.customers.create({});
    const si = await sb.stripe.setupIntents.create({ customer: customer.id });
    const pm = await card(sb, '4000000000000002');
    await sb.stripe.setupIntents.confirm(si.id, { payment_method: pm.id }).catch(() => {});
    await eventually(
      'setup_intent.setup_failed delivered',
      () => hook.got.some((g) => g.body.includes('"setup_intent.setup_failed"')),
      10_000,
    );
    const types = hook.got.map((g) => (JSON.parse(g.body) as Stripe.Event).type);
    assert.ok(types.includes('customer.created'));
    assert.ok(types.includes('setup_intent.created'));
    const failed = await sb.stripe.events.list({ type: 'setup_intent.setup_failed' });
    assert.equal(failed.data.length, 1);
    const one = await sb.stripe.events.retrieve(failed.data[0]!.id);
    assert.equal(one.type, 'setup_intent.setup_failed');
    assert.equal((one.data.object as Stripe.SetupIntent).id, si.id);
    await eventually('nothing pending', async () => (await sb.stripe.events.retrieve(one.id)).pending_webhooks === 0, 10_000);
    const updated = await sb.stripe.webhookEndpoints.update(endpoint.id, { disabled: true });
    assert.equal(updated.status, 'disabled');
    const deleted = await sb.stripe.webhookEndpoints.del(endpoint.id);
    assert.equal(deleted.deleted, true);
    await assert.rejects(sb.stripe.webhookEndpoints.retrieve(endpoint.id), (err: any) => err.statusCode === 404);
  });

  test('credentials in the URL (basic auth, as Stripe allows) go as an Authorization header to the URL without them; logs mask the password', async () => {
    const hook = await receiver((n) => (n === 1 ? 500 : 200));
    servers.push(hook.server);
    // Percent-encoded as a URL must write them: the header carries `us@er:s3cr:t-pässword`.
    const url = hook.url.replace('http://', 'http://us%40er:s3cr%3At-p%C3%A4ssword@');
    const endpoint = await sb.stripe.webhookEndpoints.create({ url, enabled_events: ['customer.created'] });
    assert.equal(endpoint.url, url, 'kept as configured');
    const customer = await sb.stripe.customers.create({ email: 'basic-auth@example.com' });
    await eventually('delivered after a 500', () => hook.got.length >= 2, 10_000);
    const basic = `Basic ${Buffer.from('us@er:s3cr:t-pässword').toString('base64')}`;
    for (const got of hook.got) {
      assert.equal(got.authorization, basic);
      assert.equal(got.path, '/hooks');
    }
    const event = Stripe.webhooks.constructEvent(hook.got[1]!.body, hook.got[1]!.signature, endpoint.secret!);
    assert.equal((event.data.object as Stripe.Customer).id, customer.id);
    const mine = () => sb.log.lines.filter((l) => l.includes(endpoint.id));
    // Logged once the pass has written the answer, after the receiver has it.
    await eventually('the delivery logged', () => mine().some((l) => l.includes('event=gateway.webhook_delivered')), 10_000);
    assert.ok(mine().some((l) => l.includes('event=gateway.webhook_endpoint_created') && l.includes('us%40er:***@127.0.0.1')));
    assert.ok(mine().some((l) => l.includes('event=gateway.webhook_failed') && l.includes('status=500')));
    for (const line of sb.log.lines) assert.ok(!/s3cr|p%C3%A4ss|pässword/.test(line), line);
  });
});
