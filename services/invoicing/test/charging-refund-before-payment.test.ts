// A refund made before invoicing knew its payment: the cardholder pays on our page after 3-D Secure,
// the payment_intent.succeeded webhook is lost, the payment is refunded at the gateway. Its
// charge.refunded is answered 409 while the invoice is unpaid, then (three days on, the gateway's
// retries over) recorded as stray. The charger finds the payment later (the window's end): the
// refund used to be lost for good (amount_refunded 0.00, the exports' control sum short); it is
// recorded with the payment, from the PaymentIntent's charge as the gateway reports it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass, type ChargerDeps } from '../src/charging/charger.ts';
import {
  chargeRow,
  chargingDatabase,
  deliverSigned,
  insertInvoice,
  putCard,
  statusOf,
  ThreeDsGateway,
  webhookApp,
} from './charging-fixture.ts';

const ADMIN = 'admin-token-for-refund-before-payment-0123';
const SECRET = 'whsec_refund_before_payment';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });

describe('a refund that came before its payment was known (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const webhookLog = memoryLogger();
  let clock = new Date('2026-11-05T00:00:00Z');
  const tick = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  const pass = (gateway: ThreeDsGateway, over: Partial<ChargerDeps> = {}) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: [60, 120], log: memoryLogger(), now: () => clock, ...over });
  /** charge.refunded for the PaymentIntent's charge, `ageSeconds` old (by the webhook's real clock), signed as the gateway signs it. */
  const deliverRefund = (id: string, paymentIntent: string, amountRefunded: number, ageSeconds: number) => {
    const event = {
      id,
      object: 'event',
      type: 'charge.refunded',
      created: Math.floor(Date.now() / 1000) - ageSeconds,
      livemode: false,
      data: {
        object: {
          id: `ch_${paymentIntent}`,
          object: 'charge',
          payment_intent: paymentIntent,
          amount_refunded: amountRefunded,
          currency: 'usd',
        },
      },
    };
    return deliverSigned(http, event, SECRET);
  };
  const invoice = async (id: string) =>
    (await http.inject({ method: 'GET', url: `/v1/invoices/${id}`, headers: { authorization: `Bearer ${ADMIN}` } })).json();
  const noticesOf = async (account: string) =>
    (await db.pool.query<{ type: string }>('select type from invoicing.notices where account_id = $1 order by seq', [account])).rows.map(
      (r) => r.type,
    );

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log: webhookLog, verifier: stripe.webhooks, secret: SECRET, adminToken: ADMIN });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  /** A 3-D Secure card asked for its holder, who pays on our page (the webhook lost); then `refund` minor units go back at the gateway, its webhook given up on. */
  async function paidUnknownThenRefunded(gateway: ThreeDsGateway, id: string, refund: number): Promise<string> {
    await insertInvoice(db.pool, { id, account: `acct-${id}`, total: '52.58' });
    await putCard(db.pool, `acct-${id}`, `pm_3ds_${id}`);
    await pass(gateway);
    assert.equal(await statusOf(db.pool, id), 'action_required');
    const intent = (await chargeRow(db.pool, id))?.payment_intent_id as string;
    gateway.confirmedByCardholder(intent);
    gateway.refundedAtGateway(intent, refund);
    // While the invoice is unpaid the refund waits (409), then, past the gateway's retries, is recorded as stray.
    assert.equal((await deliverRefund(`evt_${id}_1`, intent, refund, 0)).statusCode, 409);
    const stale = await deliverRefund(`evt_${id}_2`, intent, refund, 4 * 86_400);
    assert.equal(stale.statusCode, 200, stale.body);
    assert.ok(webhookLog.lines.some((l) => l.includes(`event_id=evt_${id}_2`) && l.includes('outcome=stray reason=not_paid')));
    assert.equal((await invoice(id)).amount_refunded, '0.00');
    return intent;
  }

  test('refunded in part: found paid at the window’s end with its refund recorded (paid, 12.50 refunded), the refund logged', async () => {
    const gateway = new ThreeDsGateway();
    const intent = await paidUnknownThenRefunded(gateway, 'rbp-part', 1250);
    tick(180);
    const log = memoryLogger();
    const report = await pass(gateway, { log });
    assert.deepEqual([report.paid, report.pastDue, report.errors], [1, 0, 0]);
    const seen = await invoice('rbp-part');
    assert.deepEqual([seen.status, seen.amount_refunded, seen.total], ['paid', '12.50', '52.58']);
    assert.ok(
      log.lines.some((l) =>
        l.includes(`event=charge.refund_found payment_intent=${intent} outcome=partly_refunded invoice_id=rbp-part amount_refunded=12.50`),
      ),
      log.lines.join('\n'),
    );
    // The gateway's own redelivery, or a later refund event with the same cumulative amount, changes nothing.
    assert.equal((await deliverRefund('evt_rbp-part_3', intent, 1250, 0)).statusCode, 200);
    assert.equal((await invoice('rbp-part')).amount_refunded, '12.50');
    assert.deepEqual(await noticesOf('acct-rbp-part'), ['invoice.action_required', 'invoice.paid']);
  });

  test('refunded whole: found paid, then refunded, told invoice.paid then invoice.refunded once', async () => {
    const gateway = new ThreeDsGateway();
    await paidUnknownThenRefunded(gateway, 'rbp-whole', 5258);
    tick(180);
    assert.equal((await pass(gateway)).paid, 1);
    const seen = await invoice('rbp-whole');
    assert.deepEqual([seen.status, seen.amount_refunded], ['refunded', '52.58']);
    assert.deepEqual(await noticesOf('acct-rbp-whole'), ['invoice.action_required', 'invoice.paid', 'invoice.refunded']);
    tick(3600);
    await pass(gateway);
    assert.deepEqual(await noticesOf('acct-rbp-whole'), ['invoice.action_required', 'invoice.paid', 'invoice.refunded']);
  });

  test('found by a confirm instead (another card put on file, its confirm answered that the PaymentIntent had succeeded): its refund is read back and recorded', async () => {
    const gateway = new ThreeDsGateway();
    const intent = await paidUnknownThenRefunded(gateway, 'rbp-card', 2000);
    await putCard(db.pool, 'acct-rbp-card', 'pm_ok_rbp_card');
    tick(60);
    const log = memoryLogger();
    assert.equal((await pass(gateway, { log })).paid, 1);
    assert.equal(gateway.succeededCharges('rbp-card'), 0, 'no second charge: the PaymentIntent had succeeded');
    const seen = await invoice('rbp-card');
    assert.deepEqual([seen.status, seen.amount_refunded], ['paid', '20.00']);
    assert.ok(log.lines.some((l) => l.includes(`event=charge.refund_found payment_intent=${intent} outcome=partly_refunded`)));
  });
});
