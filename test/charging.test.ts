// Issue 5's charging against the real gateway sandbox: `vault charge` passes,
// the retry schedule, cards added late, and the invoicing app's own loop and
// webhooks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, freePort, startService, vault } from '@vault/testkit';
import { invoicingRoutes } from '../services/invoicing/src/app.ts';
import { createBilling } from '../services/invoicing/src/billing/service.ts';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { chargingWorld, customerOf, gatewayRecord, insertInvoice, putCard, statuses, type ChargingWorld } from './charging-harness.ts';

const ADMIN = 'admin-token-charging-e2e-0123456789abcdef';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('charging finalized invoices through the gateway sandbox', () => {
  let w: ChargingWorld;
  let env: NodeJS.ProcessEnv;
  let http: FastifyInstance;
  /** The invoice's charge row: its PaymentIntent (null once let go) and idempotency key. */
  const chargeOf = async (invoiceId: string) =>
    (
      await w.db.pool.query<{ payment_intent_id: string | null; idempotency_key: string }>(
        'select payment_intent_id, idempotency_key from invoicing.charges where invoice_id = $1',
        [invoiceId],
      )
    ).rows[0]!;
  const api = async (id: string) =>
    (await http.inject({ method: 'GET', url: `/v1/invoices/${id}`, headers: { authorization: `Bearer ${ADMIN}` } })).json();

  before(async () => {
    w = await chargingWorld('charging_e2e');
    env = { DATABASE_URL: w.db.url, GATEWAY_PORT: String(w.gatewayPort), PAYMENT_RETRY_SCHEDULE: 'PT0.2S,PT0.2S', ADMIN_TOKEN: ADMIN };
    http = createHttpApp(memoryLogger());
    const prices = loadPriceBook();
    invoicingRoutes(http, {
      pool: w.db.pool,
      billing: createBilling({ pool: w.db.pool, prices, graceHours: 72 }),
      prices,
      adminToken: ADMIN,
      log: memoryLogger(),
    });
    await http.ready();
  });
  after(async () => {
    await http?.close();
    await w?.close();
  });

  test('`vault charge`: 4242 is paid at once; 4000 0000 0000 0341 is declined, retried twice, then past_due; no card is past_due; totals ≤ 0 (or below the gateway minimum of 50 cents) are never charged', async () => {
    await insertInvoice(w.db.pool, { id: 'inv-visa', account: 'acct-visa', total: '52.58' });
    await insertInvoice(w.db.pool, { id: 'inv-decline', account: 'acct-decline', total: '21.39' });
    await insertInvoice(w.db.pool, { id: 'inv-nocard', account: 'acct-nocard', total: '7.00' });
    await insertInvoice(w.db.pool, { id: 'inv-zero', account: 'acct-visa-zero', total: '0.00' });
    await insertInvoice(w.db.pool, { id: 'inv-credit', account: 'acct-visa-zero', total: '-3.61', period: '2026-11' });
    await insertInvoice(w.db.pool, { id: 'inv-tiny', account: 'acct-visa-zero', total: '0.49', period: '2026-12' });
    await putCard(w, 'acct-visa', '4242424242424242');
    await putCard(w, 'acct-decline', '4000000000000341');
    await putCard(w, 'acct-visa-zero', '4242424242424242');

    const first = await vault(['charge'], env);
    assert.equal(first.status, 0, first.stderr + first.stdout);
    assert.match(
      first.stdout,
      /charged 2 invoice\(s\): 1 paid, 1 declined; 1 past_due \(1 with no card on file\); 0 left for a later pass/,
    );
    assert.match(
      first.stdout,
      /event=charge\.attempt invoice_id=inv-decline attempt=1 step=confirm outcome=declined .*decline_code=generic_decline count#charges\.declined=1/,
    );
    assert.deepEqual(await statuses(w.db.pool), {
      'inv-credit': 'finalized',
      'inv-decline': 'finalized',
      'inv-nocard': 'past_due',
      'inv-tiny': 'finalized',
      'inv-visa': 'paid',
      'inv-zero': 'finalized',
    });
    assert.equal((await api('inv-visa')).status, 'paid');
    assert.equal((await api('inv-nocard')).status, 'past_due');

    await sleep(250);
    const second = await vault(['charge'], env);
    assert.match(second.stdout, /charged 1 invoice\(s\): 0 paid, 1 declined; 0 past_due/);
    assert.equal((await api('inv-decline')).status, 'finalized', 'still retrying');
    await sleep(250);
    const third = await vault(['charge'], env);
    assert.match(third.stdout, /charged 1 invoice\(s\): 0 paid, 1 declined; 1 past_due \(0 with no card on file\)/);
    assert.equal((await api('inv-decline')).status, 'past_due');
    await sleep(250);
    const fourth = await vault(['charge'], env);
    assert.match(fourth.stdout, /charged 0 invoice\(s\)/, 'past_due waits for another card');

    const visa = await gatewayRecord(w.sdk, await customerOf(w.db.pool, 'acct-visa'), 'inv-visa');
    assert.deepEqual(visa, { intents: 1, succeeded: 1, failed: 0 });
    const pi = (await w.db.pool.query('select payment_intent_id from invoicing.charges where invoice_id = $1', ['inv-visa'])).rows[0]
      .payment_intent_id;
    const intent = await w.sdk.paymentIntents.retrieve(pi);
    const number = (await w.db.pool.query('select number from invoicing.invoices where id = $1', ['inv-visa'])).rows[0].number;
    assert.deepEqual(
      [intent.amount, intent.currency, intent.status, intent.metadata],
      [5258, 'usd', 'succeeded', { invoice_id: 'inv-visa', account_id: 'acct-visa', number }],
    );
    assert.deepEqual(await gatewayRecord(w.sdk, await customerOf(w.db.pool, 'acct-decline'), 'inv-decline'), {
      intents: 1,
      succeeded: 0,
      failed: 3,
    });
    const zero = await customerOf(w.db.pool, 'acct-visa-zero');
    assert.equal(
      (await w.sdk.paymentIntents.list({ customer: zero! })).data.length,
      0,
      'no PaymentIntent for totals ≤ 0 or below the minimum',
    );
  });

  test('no card, then a card added: the next pass charges it and the invoice is paid, with one succeeded charge', async () => {
    assert.equal((await api('inv-nocard')).status, 'past_due');
    await putCard(w, 'acct-nocard', '4242424242424242');
    const run = await vault(['charge'], env);
    assert.match(run.stdout, /charged 1 invoice\(s\): 1 paid/);
    assert.equal((await api('inv-nocard')).status, 'paid');
    assert.deepEqual(await gatewayRecord(w.sdk, await customerOf(w.db.pool, 'acct-nocard'), 'inv-nocard'), {
      intents: 1,
      succeeded: 1,
      failed: 0,
    });
  });

  test('a past_due invoice after three declines is charged again once another card is added, continuing the attempt numbers', async () => {
    await putCard(w, 'acct-decline', '5555555555554444');
    const run = await vault(['charge'], env);
    assert.match(run.stdout, /event=charge\.attempt invoice_id=inv-decline attempt=4 step=confirm outcome=succeeded/);
    assert.equal((await api('inv-decline')).status, 'paid');
    assert.deepEqual(await gatewayRecord(w.sdk, await customerOf(w.db.pool, 'acct-decline'), 'inv-decline'), {
      intents: 1,
      succeeded: 1,
      failed: 3,
    });
  });

  test('a PaymentIntent canceled at the gateway (its dashboard) is replaced: the confirm refused as canceled spends the attempt, the next creates a new PaymentIntent and is paid', async () => {
    await insertInvoice(w.db.pool, { id: 'inv-canceled', account: 'acct-canceled', total: '12.34' });
    await putCard(w, 'acct-canceled', '4000000000000341');
    const declined = await vault(['charge'], env);
    assert.match(declined.stdout, /event=charge\.attempt invoice_id=inv-canceled attempt=1 step=confirm outcome=declined/);
    const first = await chargeOf('inv-canceled');
    await w.sdk.paymentIntents.cancel(first.payment_intent_id!);
    await putCard(w, 'acct-canceled', '4242424242424242');
    await sleep(250);
    const refused = await vault(['charge'], env);
    assert.match(
      refused.stdout,
      /event=charge\.attempt invoice_id=inv-canceled attempt=2 step=confirm outcome=refused .*code=payment_intent_canceled/,
      refused.stdout,
    );
    assert.match(
      refused.stdout,
      new RegExp(`event=charge\\.payment_intent_replaced invoice_id=inv-canceled payment_intent=${first.payment_intent_id}`),
    );
    const after = await chargeOf('inv-canceled');
    assert.equal(after.payment_intent_id, null, 'the canceled PaymentIntent is let go');
    assert.notEqual(after.idempotency_key, first.idempotency_key, 'a new key: the old one would answer the canceled create');
    await sleep(250);
    const paid = await vault(['charge'], env);
    assert.match(paid.stdout, /event=charge\.attempt invoice_id=inv-canceled attempt=3 step=confirm outcome=succeeded/, paid.stdout);
    assert.equal((await api('inv-canceled')).status, 'paid');
    assert.deepEqual(await gatewayRecord(w.sdk, await customerOf(w.db.pool, 'acct-canceled'), 'inv-canceled'), {
      intents: 2,
      succeeded: 1,
      failed: 1,
    });
  });

  test("a PaymentIntent made before invoicing asked for no redirects (Stripe's default allows them) is replaced: its confirm, refused for want of a return_url, spends the attempt; the next is paid", async () => {
    await insertInvoice(w.db.pool, { id: 'inv-redirects', account: 'acct-redirects', total: '23.45' });
    await putCard(w, 'acct-redirects', '4000000000000341');
    await vault(['charge'], env);
    // The row's PaymentIntent as an earlier release made it: no payment method types, no automatic_payment_methods.
    const customer = (await customerOf(w.db.pool, 'acct-redirects'))!;
    const old = await w.sdk.paymentIntents.create({
      amount: 2345,
      currency: 'usd',
      customer,
      metadata: { invoice_id: 'inv-redirects', account_id: 'acct-redirects' },
    });
    assert.equal(old.automatic_payment_methods?.allow_redirects, 'always');
    await w.db.pool.query(`update invoicing.charges set payment_intent_id = $1 where invoice_id = 'inv-redirects'`, [old.id]);
    await putCard(w, 'acct-redirects', '4242424242424242');
    await sleep(250);
    const refused = await vault(['charge'], env);
    assert.match(
      refused.stdout,
      /event=charge\.attempt invoice_id=inv-redirects attempt=2 step=confirm outcome=refused .*code=payment_intent_needs_return_url/,
      refused.stdout,
    );
    assert.match(refused.stdout, new RegExp(`event=charge\\.payment_intent_replaced invoice_id=inv-redirects payment_intent=${old.id}`));
    // Let go only once canceled: a page could otherwise still take the old one's money, and the new one's.
    assert.equal((await w.sdk.paymentIntents.retrieve(old.id)).status, 'canceled');
    await sleep(250);
    const paid = await vault(['charge'], env);
    assert.match(paid.stdout, /event=charge\.attempt invoice_id=inv-redirects attempt=3 step=confirm outcome=succeeded/, paid.stdout);
    assert.equal((await api('inv-redirects')).status, 'paid');
  });

  test('the gateway unreachable: `vault charge` leaves the invoice for later and exits 1', async () => {
    await insertInvoice(w.db.pool, { id: 'inv-offline', account: 'acct-visa', total: '1.00', period: '2026-11' });
    const run = await vault(['charge'], { ...env, GATEWAY_PORT: String(await freePort()) });
    assert.equal(run.status, 1, run.stdout);
    assert.match(run.stdout, /1 left for a later pass after an error/, run.stderr);
    assert.equal((await api('inv-offline')).status, 'finalized');
    const back = await vault(['charge'], env);
    assert.equal(back.status, 0);
    assert.equal((await api('inv-offline')).status, 'paid');
  });

  test('`vault charge` with an argument is a usage error, exit 2', async () => {
    const run = await vault(['charge', '--now'], env);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /charge: .*--now/);
    assert.match(run.stderr, /usage: vault/);
  });

  test("the invoicing app registers its webhook endpoint at boot, charges in its loop, and records the gateway's payment_intent.succeeded", async () => {
    await insertInvoice(w.db.pool, { id: 'inv-app', account: 'acct-app', total: '25.00' });
    await putCard(w, 'acct-app', '4242424242424242');
    const port = await freePort();
    const app = await startService('invoicing', {
      ...(env as Record<string, string>),
      INVOICING_PORT: String(port),
      HOST: '127.0.0.1',
      CHARGE_EVERY_SECONDS: '0.2',
    });
    try {
      await eventually('inv-app paid', async () => (await api('inv-app')).status === 'paid', 20_000);
      const endpoints = await w.sdk.webhookEndpoints.list();
      assert.deepEqual(
        endpoints.data.map((e) => e.url),
        [`http://localhost:${port}/v1/gateway/webhooks`],
      );
      const stored = await w.db.pool.query('select endpoint_id from invoicing.webhook_endpoints');
      assert.deepEqual(stored.rows, [{ endpoint_id: endpoints.data[0]!.id }]);
      const pi = (await w.db.pool.query('select payment_intent_id from invoicing.charges where invoice_id = $1', ['inv-app'])).rows[0]
        .payment_intent_id;
      const event = (await w.sdk.events.list({ type: 'payment_intent.succeeded', limit: 100 })).data.find(
        (e) => (e.data.object as { id: string }).id === pi,
      );
      assert.ok(event, 'the sandbox emitted payment_intent.succeeded');
      await eventually(
        'the delivery recorded',
        async () => (await w.db.pool.query('select 1 from invoicing.gateway_events where id = $1', [event.id])).rowCount === 1,
        20_000,
      );
      // The route logs its line after the row commits, so the line may follow the row by a moment.
      await eventually(
        () => `the delivery's line in:\n${app.lines.join('\n')}`,
        async () => app.lines.some((l) => l.includes(`event=webhook.received event_id=${event.id}`)),
        5_000,
      );
    } finally {
      await app.kill('SIGTERM');
    }
  });
});
