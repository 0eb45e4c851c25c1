// A 500 under one of invoicing's stored idempotency keys, against the real sandbox (its
// 500 injected by the test-only faultAfterWork switch, after the endpoint ran, rolled
// back, and kept under the key as Stripe keeps it for a day). The next try succeeds:
// with no second PaymentIntent, charge or webhook endpoint.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import type { Sandbox } from '../../gateway-sandbox/test/harness.ts';
import { chargePass } from '../src/charging/charger.ts';
import { REGISTRATION_KEY } from '../src/charging/endpoint-registrations.ts';
import { chargeGateway } from '../src/charging/gateway-calls.ts';
import { ensureWebhookEndpoint, webhookUrl } from '../src/charging/webhook-endpoint.ts';
import { insertInvoice, putCard, statusOf } from './charging-fixture.ts';
import { closeFaultySandbox, type Fault, faultySandbox } from './sandbox-fault-fixture.ts';

describe("a 500 under invoicing's stored idempotency keys, at the real sandbox", () => {
  let sb: Sandbox;
  let db: TestDatabase;
  /** Requests to a path `fault.once` matches fail once with an injected 500. */
  const fault: Fault = { once: null };
  const log = memoryLogger({ app: 'invoicing' });
  before(async () => {
    ({ sb, db } = await faultySandbox(fault));
  });
  after(() => closeFaultySandbox(sb, db));

  const pass = () => chargePass({ pool: db.pool, gateway: chargeGateway(sb.stripe), retrySchedule: [60, 120], log, now: () => new Date() });

  /** An invoice of `account` for 10.00 USD and a card on file for it at the sandbox; returns the customer. */
  async function chargeable(invoiceId: string, account: string): Promise<string> {
    const customer = await sb.stripe.customers.create({ metadata: { account_id: account } });
    const pm = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    await putCard(db.pool, account, pm.id, customer.id);
    await insertInvoice(db.pool, { id: invoiceId, account, total: '10.00' });
    return customer.id;
  }
  const recordOf = async (customer: string) => {
    const intents = (await sb.stripe.paymentIntents.list({ customer, limit: 100 })).data;
    const charges = (await sb.stripe.charges.list({ customer, limit: 100 })).data.filter((c) => c.status === 'succeeded');
    return { intents: intents.length, charges: charges.length };
  };

  test("the PaymentIntent's create answered 500: the next pass creates it under a new key, and it is paid once", async () => {
    const customer = await chargeable('inv-create-500', 'acct-create-500');
    fault.once = /^\/v1\/payment_intents$/;
    await pass();
    assert.equal(await statusOf(db.pool, 'inv-create-500'), 'finalized', 'a 500: no answer');
    const { rows } = await db.pool.query<{ idempotency_key: string; payment_intent_id: string | null }>(
      `select idempotency_key, payment_intent_id from invoicing.charges where invoice_id = 'inv-create-500'`,
    );
    const kept = await sb.db.pool.query<{ key: string }>(`select key from gateway_sandbox.idempotency_keys where status = 500`);
    assert.equal(rows[0]?.payment_intent_id, null);
    assert.ok(!kept.rows.some((k) => k.key === rows[0]!.idempotency_key), 'a new key stored before the next create');
    await pass();
    assert.equal(await statusOf(db.pool, 'inv-create-500'), 'paid');
    assert.deepEqual(await recordOf(customer), { intents: 1, charges: 1 });
  });

  test('a create answered 500 after it made the PaymentIntent: that one is found by its key, confirmed, and paid once', async () => {
    const customer = await chargeable('inv-create-made', 'acct-create-made');
    // What a 500 after the commit leaves: the PaymentIntent, its payment_intent.created under the row's key.
    await db.pool.query(
      `insert into invoicing.charges (invoice_id, state, attempts, next_attempt_at, idempotency_key)
       values ('inv-create-made', 'scheduled', 0, now(), 'pi-made-by-the-500')`,
    );
    const made = await sb.stripe.paymentIntents.create(
      {
        amount: 1000,
        currency: 'usd',
        customer,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        metadata: { invoice_id: 'inv-create-made', account_id: 'acct-create-made', number: 'n' },
      },
      { idempotencyKey: 'prepared-by-the-test' },
    );
    await sb.db.pool.query(
      `update gateway_sandbox.events set idempotency_key = 'pi-made-by-the-500'
        where type = 'payment_intent.created' and data->'object'->>'id' = $1`,
      [made.id],
    );
    fault.once = /^\/v1\/payment_intents$/;
    await pass();
    assert.equal(await statusOf(db.pool, 'inv-create-made'), 'paid');
    assert.equal((await sb.stripe.paymentIntents.retrieve(made.id)).status, 'succeeded');
    assert.deepEqual(await recordOf(customer), { intents: 1, charges: 1 });
  });

  test('a confirm answered 500: the next pass reads the PaymentIntent, confirms under a new key, and it is paid once', async () => {
    const customer = await chargeable('inv-confirm-500', 'acct-confirm-500');
    fault.once = /^\/v1\/payment_intents\/[^/]+\/confirm$/;
    await pass();
    assert.equal(await statusOf(db.pool, 'inv-confirm-500'), 'finalized', 'a 500: no answer');
    await pass();
    assert.equal(await statusOf(db.pool, 'inv-confirm-500'), 'paid');
    assert.deepEqual(await recordOf(customer), { intents: 1, charges: 1 });
  });

  const atUrl = async (url: string) => (await sb.stripe.webhookEndpoints.list({ limit: 100 })).data.filter((e) => e.url === url);

  test('registering the webhook endpoint answered 500: the next run registers it under a new key; one endpoint, its secret stored', async () => {
    const url = webhookUrl('http://localhost:4100');
    fault.once = /^\/v1\/webhook_endpoints$/;
    await assert.rejects(ensureWebhookEndpoint(db.pool, chargeGateway(sb.stripe), url, log), { statusCode: 500 });
    assert.equal((await atUrl(url)).length, 0);
    await ensureWebhookEndpoint(db.pool, chargeGateway(sb.stripe), url, log);
    const endpoints = await atUrl(url);
    assert.equal(endpoints.length, 1);
    const stored = await db.pool.query('select endpoint_id, secret from invoicing.webhook_endpoints where url = $1', [url]);
    assert.equal(stored.rows[0]?.endpoint_id, endpoints[0]!.id);
    assert.match(stored.rows[0]?.secret, /^whsec_/);
  });

  test('a 500 after the registration made its endpoint: that endpoint (its secret never seen) is deleted, and one registered anew', async () => {
    const url = webhookUrl('http://localhost:4101');
    await db.pool.query(`insert into invoicing.webhook_endpoints (url, idempotency_key) values ($1, 'webhook-endpoint:made-by-the-500')`, [
      url,
    ]);
    const orphan = await sb.stripe.webhookEndpoints.create({
      url,
      enabled_events: ['payment_intent.succeeded'],
      metadata: { [REGISTRATION_KEY]: 'webhook-endpoint:made-by-the-500' },
    });
    // Another endpoint at the same address (registered by hand, its secret configured): not ours to delete.
    const byHand = await sb.stripe.webhookEndpoints.create({ url, enabled_events: ['payment_intent.succeeded'] });
    fault.once = /^\/v1\/webhook_endpoints$/;
    await assert.rejects(ensureWebhookEndpoint(db.pool, chargeGateway(sb.stripe), url, log), { statusCode: 500 });
    await ensureWebhookEndpoint(db.pool, chargeGateway(sb.stripe), url, log);
    const ids = (await atUrl(url)).map((e) => e.id);
    const stored = await db.pool.query<{ endpoint_id: string }>('select endpoint_id from invoicing.webhook_endpoints where url = $1', [
      url,
    ]);
    assert.ok(!ids.includes(orphan.id), 'the orphan deleted');
    assert.deepEqual(ids.sort(), [byHand.id, stored.rows[0]!.endpoint_id].sort());
  });
});
