// A pass reads every candidate's card at its start, and charging them can take minutes to hours: a
// card put on file meanwhile must not have its invoice told (and emailed) "no card on file".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { withTransaction } from '@vault/db';
import { chargePass } from '../src/charging/charger.ts';
import { lockInvoice, markInvoicePaid } from '../src/charging/store.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, putCard, statusOf } from './charging-fixture.ts';

describe('a card added while a pass is charging other invoices (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  const clock = new Date('2026-11-05T00:00:00Z');

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db.drop());

  test('the invoice read without a card is not made past due, nothing is told or emailed, and the next pass charges the card', async () => {
    const gateway = new FakeGateway();
    // A is finalized first, so a pass of one invoice at a time charges it before it comes to B.
    await insertInvoice(db.pool, { id: 'card-a', account: 'acct-card-a', total: '30.00' });
    await insertInvoice(db.pool, { id: 'card-b', account: 'acct-card-b', total: '40.00' });
    await putCard(db.pool, 'acct-card-a', 'pm_ok_a');
    // B's customer puts a card on file while A's invoice is being charged, after the pass read B without one.
    gateway.beforeSend = async (invoiceId) => {
      if (invoiceId === 'card-a') await putCard(db.pool, 'acct-card-b', 'pm_ok_b');
    };
    const log = memoryLogger();
    const deps = { pool: db.pool, gateway, retrySchedule: [60, 120], log, now: () => clock, concurrency: 1 };
    const report = await chargePass(deps);
    assert.deepEqual([report.paid, report.pastDue, report.noCard], [1, 0, 0]);
    assert.equal(await statusOf(db.pool, 'card-b'), 'finalized');
    assert.equal(await chargeRow(db.pool, 'card-b'), undefined, 'nothing written');
    const told = await db.pool.query(`select id from invoicing.notices where account_id = 'acct-card-b'`);
    assert.deepEqual(told.rows, [], 'no invoice.past_due (so no "no card on file" email)');
    const emails = await db.pool.query(`select notice_id from invoicing.email_deliveries where account_id = 'acct-card-b'`);
    assert.deepEqual(emails.rows, []);
    assert.ok(log.lines.some((l) => /event=charge\.card_added invoice_id=card-b/.test(l)));

    gateway.beforeSend = undefined;
    assert.equal((await chargePass(deps)).paid, 1);
    assert.equal(await statusOf(db.pool, 'card-b'), 'paid');
  });

  test('an invoice read without a card and paid meanwhile (its webhook) is left paid: no card_added, no no_card logged', async () => {
    const gateway = new FakeGateway();
    let clock = new Date('2026-11-05T00:00:00Z');
    const log = memoryLogger();
    const deps = { pool: db.pool, gateway, retrySchedule: [60, 120], log, now: () => clock, concurrency: 1 };
    // C first: no card at the first pass, a card by the second, so the second charges it before D.
    await insertInvoice(db.pool, { id: 'paid-c', account: 'acct-paid-c', total: '30.00' });
    await insertInvoice(db.pool, { id: 'paid-d', account: 'acct-paid-d', total: '40.00' });
    await putCard(db.pool, 'acct-paid-d', 'pm_decline_d');
    await chargePass(deps);
    assert.equal((await chargeRow(db.pool, 'paid-d'))?.state, 'scheduled', 'declined, a retry due in 60 s');
    // D's card is removed (no card for its retry); its PaymentIntent is paid, its webhook arriving while C is charged.
    await db.pool.query(`delete from cc_forms.test_cards where account_id = 'acct-paid-d'`);
    await putCard(db.pool, 'acct-paid-c', 'pm_ok_c');
    gateway.beforeSend = async (invoiceId) => {
      if (invoiceId !== 'paid-c') return;
      await withTransaction(db.pool, async (client) => {
        await lockInvoice(client, 'paid-d');
        await markInvoicePaid(client, 'paid-d', undefined, { at: clock });
      });
    };
    clock = new Date(clock.getTime() + 60_000);
    log.lines.length = 0;
    const report = await chargePass(deps);
    assert.deepEqual([report.paid, report.pastDue, report.noCard], [1, 0, 0]);
    assert.deepEqual([await statusOf(db.pool, 'paid-d'), (await chargeRow(db.pool, 'paid-d'))?.state], ['paid', 'paid']);
    const said = log.lines.filter((l) => /invoice_id=paid-d/.test(l)).join('\n');
    assert.doesNotMatch(said, /event=charge\.card_added/, 'no card was added');
    assert.doesNotMatch(said, /event=charge\.no_card/);
    const told = await db.pool.query(`select type from invoicing.notices where account_id = 'acct-paid-d' order by seq`);
    assert.deepEqual(
      told.rows.map((r) => r.type),
      ['invoice.payment_failed', 'invoice.paid'],
    );
  });
});
