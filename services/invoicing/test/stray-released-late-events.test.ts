// A stray payment's own events delivered after a charging pass let it go (stray-released-event.ts),
// against the gateway sandbox: a 25.00 invoice's PaymentIntent changed at the gateway pays 10.00
// (stray), the operator refunds it, the next pass releases it and charges 25.00 anew. Its
// payment_intent.succeeded or charge.refunded coming after that (a retry, a delivery held up) was
// logged `outcome=stray` at warn with count#webhooks.stray, as a new payment nobody had handled.
// Our records know it: `outcome=stray_released` at info, nothing changed or refunded again. A
// payment naming the invoice that it never held stays a stray, at warn. The operator's refund of the
// stray the row still holds (the usual order: refunded, then released) was a stray at warn too; it is
// `outcome=stray_refunded` at info.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type Stripe from 'stripe';
import { memoryLogger } from '@vault/runtime';
import { chargePass } from '../src/charging/charger.ts';
import { type ChargeGateway, chargeGateway } from '../src/charging/gateway-calls.ts';
import { chargingWorld, customerOf, insertInvoice, putCard, type ChargingWorld } from '../../../test/charging-harness.ts';
import { deliverSigned, webhookApp } from './charging-fixture.ts';

const SECRET = 'whsec_stray_released_late';
const ADMIN = 'stray-released-late-admin-0123456789abcdef';

let w: ChargingWorld;
let http: FastifyInstance;
const log = memoryLogger();

before(async () => {
  w = await chargingWorld('stray_released_late');
  http = await webhookApp(w.db.pool, { log, verifier: w.sdk.webhooks, secret: SECRET, adminToken: ADMIN });
});
after(async () => {
  await http?.close();
  await w?.close();
});

const rowOf = async (id: string) =>
  (
    await w.db.pool.query<{ payment_intent_id: string | null; last_error_code: string | null }>(
      'select payment_intent_id, last_error_code from invoicing.charges where invoice_id = $1',
      [id],
    )
  ).rows[0];
const statusOf = async (id: string) =>
  (await w.db.pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [id])).rows[0]!.status;

/** The sandbox's event of `type` about PaymentIntent `pi` (its object, or its charge's `payment_intent`). */
async function eventOf(type: string, pi: string): Promise<Stripe.Event> {
  for await (const e of w.sdk.events.list({ limit: 100 })) {
    const o = e.data.object as { id?: string; payment_intent?: string };
    if (e.type === type && (o.id === pi || o.payment_intent === pi)) return e;
  }
  throw new Error(`no ${type} of ${pi}`);
}

/** Delivered signed through the route, the log lines it wrote. */
async function deliver(event: object): Promise<string[]> {
  const from = log.lines.length;
  const res = await deliverSigned(http, event, SECRET);
  assert.equal(res.statusCode, 200, res.body);
  return log.lines.slice(from).filter((l) => l.includes('event=webhook.'));
}

describe('a stray payment’s events after a pass let it go', () => {
  test('its late payment_intent.succeeded and charge.refunded are the known stray given back: info, its own outcome, nothing refunded again', async () => {
    const gateway = chargeGateway(w.sdk);
    await putCard(w, 'acct-sr', '4242424242424242');
    await insertInvoice(w.db.pool, { id: 'inv-sr', account: 'acct-sr', total: '25.00' });
    const changed: ChargeGateway = { ...gateway, createPaymentIntent: (p) => gateway.createPaymentIntent({ ...p, amount: 1000 }) };
    const pass = (through: ChargeGateway) => chargePass({ pool: w.db.pool, gateway: through, retrySchedule: [60], log: memoryLogger() });
    await pass(changed);
    const stray = (await rowOf('inv-sr'))!.payment_intent_id!;
    assert.equal((await rowOf('inv-sr'))?.last_error_code, 'stray_payment');

    // The operator gives back part of it first: its charge.refunded, the row still holding the stray, is
    // the remedy under way (charge.stray warned already), at info, not a stray; nothing recorded on the invoice.
    await w.sdk.refunds.create({ payment_intent: stray, amount: 400 });
    const partly = await deliver(await eventOf('charge.refunded', stray));
    assert.equal(partly.length, 1, partly.join('\n'));
    assert.match(
      partly[0]!,
      new RegExp(`^at=info event=webhook.received .*outcome=stray_refunded invoice_id=inv-sr payment_intent=${stray}`),
    );
    assert.doesNotMatch(partly[0]!, /count#webhooks\.stray/);
    assert.equal((await rowOf('inv-sr'))?.payment_intent_id, stray, 'still held: not given back in full');

    // Then the rest; the next pass lets it go and charges 25.00 on a new PaymentIntent.
    await w.sdk.refunds.create({ payment_intent: stray });
    assert.equal((await pass(gateway)).paid, 1);
    assert.notEqual((await rowOf('inv-sr'))?.payment_intent_id, stray);
    assert.equal(await statusOf('inv-sr'), 'paid');

    // Its own events, delivered now.
    for (const type of ['payment_intent.succeeded', 'charge.refunded']) {
      const lines = await deliver(await eventOf(type, stray));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(
        lines[0]!,
        new RegExp(`^at=info event=webhook.received .*outcome=stray_released invoice_id=inv-sr payment_intent=${stray}`),
      );
      assert.doesNotMatch(lines[0]!, /count#webhooks\.stray/);
    }
    assert.equal(await statusOf('inv-sr'), 'paid');
    assert.equal((await w.sdk.refunds.list({ payment_intent: stray })).data.length, 2, 'nothing refunded again');
    const invoice = await w.db.pool.query<{ amount_refunded: string }>(
      'select amount_refunded::text from invoicing.invoices where id = $1',
      ['inv-sr'],
    );
    assert.equal(invoice.rows[0]!.amount_refunded, '0.00', 'the stray’s refund is not the invoice’s');

    // A PaymentIntent naming the invoice that it never held: a stray still, at warn.
    const customer = (await customerOf(w.db.pool, 'acct-sr'))!;
    const card = (await w.sdk.paymentMethods.list({ customer, type: 'card' })).data[0]!.id;
    const foreign = await w.sdk.paymentIntents.create({
      amount: 2500,
      currency: 'usd',
      customer,
      payment_method: card,
      confirm: true,
      off_session: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: { invoice_id: 'inv-sr' },
    });
    const lines = await deliver(await eventOf('payment_intent.succeeded', foreign.id));
    assert.match(lines[0]!, /^at=warn event=webhook.received .*outcome=stray reason=not_its_payment_intent .*count#webhooks\.stray=1/);
  });
});
