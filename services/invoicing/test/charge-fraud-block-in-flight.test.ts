// A card reported stolen (blocked-cards.ts) was still charged on two paths: an attempt in flight on it
// (its confirm unanswered: a 5xx, a crash) was replayed with it at the next pass, and a pass that read
// the cards before a fraudulent withdrawal blocked one charged it for the account's other invoices. Now
// an attempt in flight on a blocked card has its PaymentIntent canceled (a success it had is recorded
// as paid), and every attempt's card is read again under the invoice's lock before it is sent.
// In-memory gateway, real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, putCard, statusOf } from './charging-fixture.ts';

describe('a blocked card is not charged by an attempt in flight or later in the same pass (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  const log = memoryLogger();
  let clock = new Date('2026-11-05T00:00:00Z');
  const pass = (gateway: FakeGateway) => {
    clock = new Date(clock.getTime() + 3600_000);
    return chargePass({ pool: db.pool, gateway, retrySchedule: [60, 120], log, now: () => clock, concurrency: 1 });
  };
  const block = (pm: string, account: string) =>
    db.pool.query(
      `insert into invoicing.blocked_payment_methods (payment_method_id, account_id, dispute_id, reason, blocked_at)
       values ($1, $2, 'dp_' || $1, 'fraudulent', now())`,
      [pm, account],
    );
  const chargesTo = (gateway: FakeGateway, pm: string) => gateway.charges.filter((c) => c.paymentMethod === pm).length;

  before(async () => {
    db = await chargingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('its confirm unanswered (a 5xx), the card then blocked: the next pass cancels the PaymentIntent, does not confirm it, and the invoice goes past due', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'if-1', account: 'acct-if', total: '52.58' });
    await putCard(db.pool, 'acct-if', 'pm_ok_if');
    gateway.serverErrors = 'before';
    await pass(gateway);
    gateway.serverErrors = undefined;
    const pending = await chargeRow(db.pool, 'if-1');
    assert.equal(pending?.pending_payment_method_id, 'pm_ok_if');
    const intent = pending?.payment_intent_id as string;

    await block('pm_ok_if', 'acct-if');
    const confirms = gateway.sent.filter((s) => s.startsWith('if-1:')).length;
    await pass(gateway);
    assert.equal(gateway.sent.filter((s) => s.startsWith('if-1:')).length, confirms, 'not confirmed again');
    assert.equal(chargesTo(gateway, 'pm_ok_if'), 0);
    assert.equal(gateway.intents.get(intent)?.status, 'canceled');
    assert.equal(await statusOf(db.pool, 'if-1'), 'past_due');
    const row = await chargeRow(db.pool, 'if-1');
    assert.deepEqual(
      [row?.payment_intent_id, row?.pending_payment_method_id, row?.last_error_code],
      [null, null, 'card_reported_fraudulent'],
    );

    // A new card is charged at once, on a new PaymentIntent.
    await putCard(db.pool, 'acct-if', 'pm_ok_if_new');
    assert.equal((await pass(gateway)).paid, 1);
    assert.equal(await statusOf(db.pool, 'if-1'), 'paid');
    assert.equal(chargesTo(gateway, 'pm_ok_if'), 0);
  });

  test('its confirm went through but its answer was lost (a crash), the card then blocked: the success is recorded, nothing charged again', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'ic-1', account: 'acct-ic', total: '52.58' });
    await putCard(db.pool, 'acct-ic', 'pm_ok_ic');
    gateway.crashConfirms = true;
    await pass(gateway);
    gateway.crashConfirms = false;
    assert.equal((await chargeRow(db.pool, 'ic-1'))?.pending_payment_method_id, 'pm_ok_ic');

    await block('pm_ok_ic', 'acct-ic');
    assert.equal((await pass(gateway)).paid, 1);
    assert.equal(await statusOf(db.pool, 'ic-1'), 'paid');
    assert.equal(chargesTo(gateway, 'pm_ok_ic'), 1, 'the one payment, not another');
  });

  test('a card blocked mid-pass (while invoice 1 is being charged) is not charged for invoice 2 of the same pass', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'mp-1', account: 'acct-mp', total: '52.58' });
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total)
       values ('mp-2', 'acct-mp', '2026-11', '2026-11-01Z', '2026-12-01Z', 'mp-2', 'finalized', 'USD', '10.00')`,
    );
    await putCard(db.pool, 'acct-mp', 'pm_ok_mp');
    // Its fraudulent chargeback's withdrawal lands as invoice 1's PaymentIntent is made.
    gateway.beforeSend = async (invoiceId) => {
      if (invoiceId === 'mp-1') await block('pm_ok_mp', 'acct-mp');
    };
    const report = await pass(gateway);
    gateway.beforeSend = undefined;
    assert.ok(!gateway.sent.includes('mp-2'), 'nothing sent for invoice 2');
    assert.ok(!gateway.sent.some((s) => s.startsWith('mp-1:')), 'invoice 1 not confirmed');
    assert.equal(chargesTo(gateway, 'pm_ok_mp'), 0);
    assert.deepEqual([report.charged, report.pastDue], [0, 2]);
    for (const id of ['mp-1', 'mp-2']) {
      assert.equal(await statusOf(db.pool, id), 'past_due');
      assert.equal((await chargeRow(db.pool, id))?.last_error_code, 'card_reported_fraudulent');
    }
    assert.ok(log.lines.some((l) => /event=charge\.card_blocked_not_charged invoice_id=mp-2 .*payment_method=pm_ok_mp/.test(l)));

    // Invoice 1's PaymentIntent, made and never confirmed, is canceled by the next pass: never confirmed with it.
    const intent = (await chargeRow(db.pool, 'mp-1'))?.payment_intent_id as string;
    await pass(gateway);
    assert.equal(gateway.intents.get(intent)?.status, 'canceled');
    assert.equal((await chargeRow(db.pool, 'mp-1'))?.payment_intent_id, null);
    assert.equal(chargesTo(gateway, 'pm_ok_mp'), 0);
  });
});
