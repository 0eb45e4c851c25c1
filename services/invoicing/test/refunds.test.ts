// Issue 17: a refund made through the gateway is recorded on its invoice.
// `charge.refunded` (the sandbox and Stripe send it, with the charge's
// cumulative amount_refunded) signed as the gateway signs it, on the real
// PostgreSQL: amount_refunded, `refunded` when whole, never lowered, never
// undone by a late payment_intent.succeeded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargedThrough, chargingDatabase, deliverSigned, statusOf, webhookApp } from './charging-fixture.ts';

const ADMIN = 'admin-token-for-refund-tests-0123456789';
const SECRET = 'whsec_refund_tests';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });

const event = (id: string, type: string, object: object) => ({
  id,
  object: 'event',
  type,
  created: Math.floor(Date.now() / 1000),
  livemode: false,
  data: { object },
});
/** payment_intent.succeeded of invoice `invoiceId`'s own PaymentIntent (`pi_<invoice id>`), for `cents`. */
const succeeded = (id: string, invoiceId: string, cents: number) =>
  event(id, 'payment_intent.succeeded', {
    id: `pi_${invoiceId}`,
    object: 'payment_intent',
    status: 'succeeded',
    amount: cents,
    amount_received: cents,
    currency: 'usd',
    metadata: { invoice_id: invoiceId },
  });
const refunded = (id: string, paymentIntent: string | null, amountRefunded: number, currency = 'usd') =>
  event(id, 'charge.refunded', {
    id: `ch_${paymentIntent}`,
    object: 'charge',
    payment_intent: paymentIntent,
    amount: 5000,
    amount_refunded: amountRefunded,
    refunded: false,
    currency,
  });

describe('refunds reported by the gateway (charge.refunded)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const log = memoryLogger();
  const deliver = (e: object) => deliverSigned(http, e, SECRET);
  const invoice = async (id: string) =>
    (await http.inject({ method: 'GET', url: `/v1/invoices/${id}`, headers: { authorization: `Bearer ${ADMIN}` } })).json();

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log, verifier: stripe.webhooks, secret: SECRET, adminToken: ADMIN });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('a partial refund is recorded (still paid), the rest makes it refunded; an older or repeated delivery changes nothing', async () => {
    await chargedThrough(db.pool, 'rf-1', '50.00');
    const partial = await deliver(refunded('evt_rf_1', 'pi_rf-1', 1250));
    assert.equal(partial.statusCode, 200, partial.body);
    assert.deepEqual([(await invoice('rf-1')).status, (await invoice('rf-1')).amount_refunded], ['paid', '12.50']);
    assert.ok(
      log.lines.some((l) =>
        /event=webhook\.received event_id=evt_rf_1 type=charge\.refunded outcome=partly_refunded invoice_id=rf-1/.test(l),
      ),
    );

    assert.equal((await deliver(refunded('evt_rf_2', 'pi_rf-1', 5000))).statusCode, 200);
    const whole = await invoice('rf-1');
    assert.deepEqual([whole.status, whole.amount_refunded, whole.total], ['refunded', '50.00', '50.00']);

    assert.deepEqual((await deliver(refunded('evt_rf_2', 'pi_rf-1', 5000))).json(), { received: true, duplicate: true });
    // The first refund's event, delivered again under a new id (out of order): the cumulative amount never goes down.
    assert.equal((await deliver(refunded('evt_rf_1b', 'pi_rf-1', 1250))).statusCode, 200);
    assert.deepEqual([(await invoice('rf-1')).status, (await invoice('rf-1')).amount_refunded], ['refunded', '50.00']);
  });

  test('a late payment_intent.succeeded never moves a refunded invoice back to paid', async () => {
    assert.equal((await deliver(succeeded('evt_rf_paid_late', 'rf-1', 5000))).statusCode, 200);
    assert.equal(await statusOf(db.pool, 'rf-1'), 'refunded');
  });

  test('a refund delivered before its payment (deliveries come in any order) is refused unrecorded, so its redelivery after the payment is recorded', async () => {
    await chargedThrough(db.pool, 'rf-early', '20.00', 'past_due');
    const early = refunded('evt_rf_early', 'pi_rf-early', 2000);
    const first = await deliver(early);
    assert.equal(first.statusCode, 409, first.body);
    assert.match(first.json().error, /payment is not recorded on its invoice yet/);
    assert.ok(log.lines.some((l) => l.includes('event=webhook.retry_later event_id=evt_rf_early')));
    assert.deepEqual([(await invoice('rf-early')).status, (await invoice('rf-early')).amount_refunded], ['past_due', '0.00']);
    assert.equal((await deliver(succeeded('evt_rf_early_paid', 'rf-early', 2000))).statusCode, 200);
    const again = await deliver(early);
    assert.deepEqual(again.json(), { received: true, duplicate: false });
    assert.deepEqual([(await invoice('rf-early')).status, (await invoice('rf-early')).amount_refunded], ['refunded', '20.00']);

    // A payment that has not come three days after the refund's event will not: recorded as stray, not refused for ever.
    await chargedThrough(db.pool, 'rf-never', '20.00', 'past_due');
    const stale = { ...refunded('evt_rf_never', 'pi_rf-never', 2000), created: Math.floor(Date.now() / 1000) - 4 * 86_400 };
    const res = await deliver(stale);
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(log.lines.some((l) => l.includes('event_id=evt_rf_never') && l.includes('outcome=stray reason=not_paid')));
    assert.deepEqual((await deliver(stale)).json(), { received: true, duplicate: true });
    // Without `created` its age is unknown: it keeps waiting, never taken for stale.
    const { created: _, ...undated } = refunded('evt_rf_undated', 'pi_rf-never', 1000);
    assert.equal((await deliver(undated)).statusCode, 409);
  });

  test('a refund of no invoice of ours, in another currency or above the total is answered 200 and changes nothing', async () => {
    await chargedThrough(db.pool, 'rf-3', '20.00');
    for (const [id, e] of [
      ['evt_rf_unknown', refunded('evt_rf_unknown', 'pi_nobody', 100)],
      ['evt_rf_none', refunded('evt_rf_none', null, 100)],
      ['evt_rf_eur', refunded('evt_rf_eur', 'pi_rf-3', 100, 'eur')],
      ['evt_rf_more', refunded('evt_rf_more', 'pi_rf-3', 2001)],
    ] as const) {
      const res = await deliver(e);
      assert.equal(res.statusCode, 200, `${id}: ${res.body}`);
      assert.ok(
        log.lines.some((l) => l.includes(`event_id=${id}`) && l.includes('outcome=stray')),
        `${id} is logged as stray`,
      );
    }
    assert.deepEqual([(await invoice('rf-3')).status, (await invoice('rf-3')).amount_refunded], ['paid', '0.00']);
  });
});
