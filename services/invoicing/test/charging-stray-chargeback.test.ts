// A stray payment (a success that does not pay its invoice: save-payment.ts) holds the invoice until
// the gateway gives its money back to the cardholder. The operator's remedy is a refund, but a
// disputed charge cannot be refunded (Stripe: charge_disputed): a chargeback the bank wins (the
// dispute `lost`) gives the money back instead, alone or with a partial refund. Before, only a
// refund released it, so an invoice whose stray payment was charged back was never collected.
// In-memory gateway, real PostgreSQL; the real sandbox's own: test/charging-stray-chargeback.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass, type ChargerDeps } from '../src/charging/charger.ts';
import { handleGatewayEvent } from '../src/charging/webhooks.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, putCard, statusOf } from './charging-fixture.ts';

describe('a stray payment charged back (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  let clock = new Date('2026-11-05T00:00:00Z');
  const tick = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  const pass = (gateway: FakeGateway, over: Partial<ChargerDeps> = {}) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: [60, 120], log: memoryLogger(), now: () => clock, ...over });

  /** An invoice of 52.58 whose first confirm charged 0.50 (its PaymentIntent changed at the gateway): held, stray. */
  const strayInvoice = async (gateway: FakeGateway, id: string) => {
    await insertInvoice(db.pool, { id, account: `acct-${id}`, total: '52.58' });
    await putCard(db.pool, `acct-${id}`, `pm_ok_${id}`);
    gateway.beforeSend = async (invoiceId) => {
      const intent = [...gateway.intents.values()].find((i) => i.invoiceId === invoiceId && i.status === 'requires_payment_method');
      if (invoiceId === id && intent) gateway.updatedAtGateway(intent.id, { amount: 50 });
    };
    assert.equal((await pass(gateway)).errors, 1);
    gateway.beforeSend = undefined;
    const row = await chargeRow(db.pool, id);
    assert.equal(row?.last_error_code, 'stray_payment');
    return row?.payment_intent_id as string;
  };
  /** A pass an hour on: whether it charged (released) or only looked. */
  const laterPass = async (gateway: FakeGateway) => {
    tick(3600);
    const log = memoryLogger();
    const report = await pass(gateway, { log });
    return { report, log };
  };

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db.drop());

  test('disputed (open, under review, won): still held, nothing charged; lost: let go, and a new PaymentIntent for 52.58 pays the invoice once', async () => {
    const gateway = new FakeGateway();
    const stray = await strayInvoice(gateway, 'cb-lost');
    for (const status of ['needs_response', 'under_review', 'won']) {
      gateway.disputedAtGateway(stray, 'dp_cb_lost', 50, status);
      const { report, log } = await laterPass(gateway);
      assert.deepEqual([report.charged, report.errors], [0, 0], status);
      assert.equal(gateway.disputesListed.at(-1), stray, `${status}: its disputes read`);
      assert.ok(!log.lines.some((l) => l.includes('charge.stray_released')), status);
      assert.equal(await statusOf(db.pool, 'cb-lost'), 'finalized', status);
      assert.equal((await chargeRow(db.pool, 'cb-lost'))?.payment_intent_id, stray, status);
    }

    gateway.disputedAtGateway(stray, 'dp_cb_lost', 50, 'lost');
    const { report, log } = await laterPass(gateway);
    assert.deepEqual([report.charged, report.paid, report.errors], [1, 1, 0]);
    assert.ok(
      log.lines.some((l) =>
        l.includes(
          `event=charge.stray_released invoice_id=cb-lost payment_intent=${stray} amount_refunded=0.00 amount_charged_back=0.50 currency=USD disputes=dp_cb_lost`,
        ),
      ),
      log.lines.join('\n'),
    );
    const row = await chargeRow(db.pool, 'cb-lost');
    const fresh = row?.payment_intent_id as string;
    assert.notEqual(fresh, stray);
    assert.equal(gateway.intents.get(fresh)?.amount, 5258);
    assert.deepEqual([await statusOf(db.pool, 'cb-lost'), row?.state, row?.last_error_code], ['paid', 'paid', null]);
    assert.equal(gateway.succeededCharges('cb-lost'), 2, 'the charged-back 0.50, then the 52.58');

    // Paid is absorbing: the old dispute changing again (reinstated after an appeal) charges nothing more.
    gateway.disputedAtGateway(stray, 'dp_cb_lost', 50, 'won');
    assert.equal((await laterPass(gateway)).report.charged, 0);
    assert.equal(gateway.succeededCharges('cb-lost'), 2);
  });

  test('refunded in part and the rest charged back (lost) together give it all back: released; the same with the dispute still open is not', async () => {
    const gateway = new FakeGateway();
    const stray = await strayInvoice(gateway, 'cb-both');
    gateway.refundedAtGateway(stray, 20);
    gateway.disputedAtGateway(stray, 'dp_cb_both', 30, 'needs_response');
    assert.equal((await laterPass(gateway)).report.charged, 0);
    assert.equal(await statusOf(db.pool, 'cb-both'), 'finalized');

    gateway.disputedAtGateway(stray, 'dp_cb_both', 30, 'lost');
    const { report, log } = await laterPass(gateway);
    assert.deepEqual([report.charged, report.paid], [1, 1]);
    assert.ok(
      log.lines.some((l) =>
        l.includes(`event=charge.stray_released invoice_id=cb-both payment_intent=${stray} amount_refunded=0.20 amount_charged_back=0.30`),
      ),
    );
    assert.equal(await statusOf(db.pool, 'cb-both'), 'paid');
  });

  test('a lost dispute of part of it alone is not all of it: held; a charge not disputed is not asked for disputes; no answer to the list is left for a later pass', async () => {
    const gateway = new FakeGateway();
    const part = await strayInvoice(gateway, 'cb-part');
    gateway.disputedAtGateway(part, 'dp_cb_part', 49, 'lost');
    assert.equal((await laterPass(gateway)).report.charged, 0);
    assert.equal(await statusOf(db.pool, 'cb-part'), 'finalized');

    const plain = await strayInvoice(gateway, 'cb-plain');
    gateway.refundedAtGateway(plain, 10);
    await laterPass(gateway);
    assert.ok(!gateway.disputesListed.includes(plain), 'no dispute to read');

    const silent = await strayInvoice(gateway, 'cb-silent');
    gateway.disputedAtGateway(silent, 'dp_cb_silent', 50, 'lost');
    const list = gateway.listDisputes.bind(gateway);
    gateway.listDisputes = async (id) =>
      id === silent ? { error: { kind: 'unanswered', code: 'StripeConnectionError', message: 'no answer' } } : list(id);
    const { report, log } = await laterPass(gateway);
    assert.deepEqual([report.charged, report.errors], [0, 1]);
    assert.ok(
      log.lines.some((l) =>
        l.includes(`event=charge.dispute_check_failed invoice_id=cb-silent payment_intent=${silent} code=StripeConnectionError`),
      ),
    );
    gateway.listDisputes = list;
    assert.deepEqual((await laterPass(gateway)).report.paid, 1, 'answered: released and paid');
    assert.equal(await statusOf(db.pool, 'cb-silent'), 'paid');
  });

  /** `charge.refunded` of a PaymentIntent's charge, `amount` minor units refunded so far. */
  const refundEvent = (id: string, paymentIntent: string, amount: number) => ({
    id,
    type: 'charge.refunded',
    created: Math.floor(clock.getTime() / 1000),
    data: {
      object: { id: `ch_${paymentIntent}`, object: 'charge', payment_intent: paymentIntent, amount_refunded: amount, currency: 'usd' },
    },
  });
  const amountRefunded = async (id: string) =>
    (await db.pool.query<{ a: string }>('select amount_refunded::text as a from invoicing.invoices where id = $1', [id])).rows[0]?.a;

  test("a stray payment's refund is answered at once as the stray being given back, not a stray (not waited for as the invoice's, three days of redeliveries)", async () => {
    const gateway = new FakeGateway();
    const stray = await strayInvoice(gateway, 'cb-refund-event');
    const outcome = await handleGatewayEvent(
      { pool: db.pool, log: memoryLogger(), now: () => clock.getTime() },
      refundEvent('evt_cb_r1', stray, 20),
    );
    // The operator's remedy for the stray the row holds (charge.stray warned already): at info, not `stray`.
    assert.deepEqual(outcome, { outcome: 'stray_refunded', invoice_id: 'cb-refund-event', payment_intent: stray });
    assert.equal(await amountRefunded('cb-refund-event'), '0.00');
  });

  test("a stray's refund looked up just before the stray is let go and another PaymentIntent pays the invoice: not recorded on the paid invoice", async () => {
    const gateway = new FakeGateway();
    const stray = await strayInvoice(gateway, 'cb-refund-race');
    // The release and the new payment commit while the refund's handler waits for the invoice's lock,
    // after it found the invoice by the stray's PaymentIntent.
    const holder = await db.pool.connect();
    try {
      await holder.query('begin');
      await holder.query(`select 1 from invoicing.invoices where id = 'cb-refund-race' for update`);
      const handled = handleGatewayEvent(
        { pool: db.pool, log: memoryLogger(), now: () => clock.getTime() },
        refundEvent('evt_cb_r2', stray, 50),
      );
      await new Promise((r) => setTimeout(r, 300));
      await holder.query(
        `update invoicing.charges set payment_intent_id = 'pi_cb_new', last_error_code = null, last_error_message = null, state = 'paid', next_attempt_at = null where invoice_id = 'cb-refund-race'`,
      );
      await holder.query(`update invoicing.invoices set status = 'paid' where id = 'cb-refund-race'`);
      await holder.query('commit');
      const outcome = await handled;
      // The stray it was, given back and let go meanwhile: known (stray-released-event.ts), not recorded.
      assert.deepEqual(outcome, { outcome: 'stray_released', invoice_id: 'cb-refund-race', payment_intent: stray });
    } finally {
      holder.release();
    }
    assert.deepEqual([await statusOf(db.pool, 'cb-refund-race'), await amountRefunded('cb-refund-race')], ['paid', '0.00']);
  });
});
