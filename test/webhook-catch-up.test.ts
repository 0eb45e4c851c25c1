// No gateway event lost (review, medium): Stripe sends nothing of what
// happens while it keeps an endpoint disabled, so a refund made then never
// reached invoicing, and the invoice stayed paid with nothing refunded for
// good. Invoicing now checks its endpoint every WEBHOOK_CATCH_UP_EVERY_SECONDS
// (not only at boot) and catches up with the gateway's events its webhooks
// missed. The real sandbox and invoicing app, through the official SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, freePort, type RunningService } from '@vault/testkit';
import { chargingWorld, insertInvoice, putCard, startChargingInvoicing, type ChargingWorld } from './charging-harness.ts';

const ADMIN = 'admin-token-webhook-catch-up-0123456789abcdef';

describe("a refund made while invoicing's webhook endpoint was disabled (real sandbox and invoicing app)", () => {
  let w: ChargingWorld;
  let port: number;
  let app: RunningService | undefined;
  const start = (catchUpEvery: string) => startChargingInvoicing(w, port, ADMIN, { WEBHOOK_CATCH_UP_EVERY_SECONDS: catchUpEvery });
  const invoice = async (id: string) => {
    const res = await fetch(`${app!.url}/v1/invoices/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return (await res.json()) as { status: string; amount_refunded: string };
  };
  /** An invoice of 25.00 charged to a card that pays, and its PaymentIntent. */
  const paidInvoice = async (id: string) => {
    await putCard(w, `acct-${id}`, '4242424242424242');
    await insertInvoice(w.db.pool, { id, account: `acct-${id}`, total: '25.00' });
    await eventually(`${id} paid`, async () => (await invoice(id)).status === 'paid', 20_000);
    const { rows } = await w.db.pool.query<{ payment_intent_id: string }>(
      'select payment_intent_id from invoicing.charges where invoice_id = $1',
      [id],
    );
    return rows[0]!.payment_intent_id;
  };
  const endpointId = async () =>
    (await w.db.pool.query<{ endpoint_id: string }>('select endpoint_id from invoicing.webhook_endpoints')).rows[0]!.endpoint_id;

  before(async () => {
    w = await chargingWorld('webhook_catch_up');
    port = await freePort();
  });
  after(async () => {
    await app?.kill('SIGTERM');
    await w?.close();
  });

  test('refunded while the endpoint was disabled: after a restart the endpoint is enabled again and the refund recorded', async () => {
    // Only the run at boot: an hour between runs.
    app = await start('3600');
    const pi = await paidInvoice('inv-restart');
    const endpoint = await endpointId();
    await w.sdk.webhookEndpoints.update(endpoint, { disabled: true });
    const refund = await w.sdk.refunds.create({ payment_intent: pi });
    // The gateway queues nothing for a disabled endpoint: no delivery will ever come.
    const deliveries = await w.db.pool.query(
      `select 1 from gateway_sandbox.deliveries where endpoint_id = $1 and event_id in
      (select id from gateway_sandbox.events where type = 'charge.refunded')`,
      [endpoint],
    );
    assert.equal(deliveries.rowCount, 0);
    await sleep(500);
    const unheard = await invoice('inv-restart');
    assert.deepEqual([unheard.status, unheard.amount_refunded], ['paid', '0.00']);

    await app.kill('SIGTERM');
    app = await start('3600');
    await eventually('the refund recorded', async () => (await invoice('inv-restart')).status === 'refunded', 20_000);
    assert.equal((await invoice('inv-restart')).amount_refunded, '25.00');
    assert.equal((await w.sdk.webhookEndpoints.retrieve(endpoint)).status, 'enabled');
    const line = app.lines.find((l) => l.includes('event=webhook.caught_up') && l.includes('type=charge.refunded'));
    assert.match(line ?? '', /outcome=refunded invoice_id=inv-restart amount_refunded=25\.00 count#webhooks\.caught_up=1/);
    assert.equal(refund.status, 'succeeded');
  });

  test('disabled while invoicing runs: enabled again within a run, and the refund made meanwhile recorded, with no restart', async () => {
    await app?.kill('SIGTERM');
    app = await start('0.5');
    const pi = await paidInvoice('inv-running');
    const endpoint = await endpointId();
    await w.sdk.webhookEndpoints.update(endpoint, { disabled: true });
    await w.sdk.refunds.create({ payment_intent: pi, amount: 1000 });
    await eventually(
      'the endpoint enabled again',
      async () => (await w.sdk.webhookEndpoints.retrieve(endpoint)).status === 'enabled',
      20_000,
    );
    await eventually('the refund recorded', async () => (await invoice('inv-running')).amount_refunded === '10.00', 20_000);
    assert.equal((await invoice('inv-running')).status, 'paid');
  });
});
