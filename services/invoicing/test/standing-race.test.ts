// An account is suspended on what it owes once the review holds its past-due
// invoices and its standing row, in the order a payment locks them: a payment
// in progress holds its invoice from its first step, so a review deciding
// meanwhile waits for it and reads the invoice paid. It used to lock only a
// suspended account's row, then only the standing row: the review went on,
// read the invoice still past due, and suspended an account whose overdue
// invoice was being paid.
// Real PostgreSQL, two transactions at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { reviewStandings } from '../src/accounts/standing.ts';
import { lockInvoice, markInvoicePaid } from '../src/charging/store.ts';
import { chargingDatabase, insertInvoice } from './charging-fixture.ts';

describe('suspension and payment at once (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await chargingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('a review while the overdue invoice is being paid waits for the payment and suspends nothing', async () => {
    await insertInvoice(db.pool, { id: 'race-1', account: 'acct-race', total: '12.00', status: 'past_due' });
    await db.pool.query(
      `insert into invoicing.charges (invoice_id, state, attempts, past_due_at) values ('race-1', 'past_due', 3, '2026-01-01Z')`,
    );
    const paying = await db.pool.connect();
    try {
      await paying.query('begin');
      assert.equal(await markInvoicePaid(paying, 'race-1'), true);
      let reviewed = false;
      const review = reviewStandings({ pool: db.pool, log: memoryLogger(), suspendAfterSeconds: 60, minimum: '0.50' }).finally(() => {
        reviewed = true;
      });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(reviewed, false, 'the review waits for the payment in progress');
      await paying.query('commit');
      assert.deepEqual(await review, { suspended: 0, reinstated: 0 });
    } finally {
      paying.release();
    }
    const { rows } = await db.pool.query(`select suspended_at, suspensions from invoicing.account_standing where account_id = 'acct-race'`);
    assert.deepEqual(rows, [{ suspended_at: null, suspensions: 0 }]);
    const notices = await db.pool.query(`select type from invoicing.notices where account_id = 'acct-race' order by seq`);
    assert.deepEqual(
      notices.rows.map((n) => n.type),
      ['invoice.paid'],
    );
  });

  test('a review while a payment holds the invoice but has not reached the standing row yet waits for it too: no suspended-then-reinstated pair', async () => {
    await insertInvoice(db.pool, { id: 'race-2', account: 'acct-race-2', total: '12.00', status: 'past_due' });
    await db.pool.query(
      `insert into invoicing.charges (invoice_id, state, attempts, past_due_at) values ('race-2', 'past_due', 3, '2026-01-01Z')`,
    );
    const paying = await db.pool.connect();
    try {
      await paying.query('begin');
      // A payment's first step (a webhook's or the charger's): its invoice locked, nothing else yet.
      assert.equal(await lockInvoice(paying, 'race-2'), true);
      let reviewed = false;
      const review = reviewStandings({ pool: db.pool, log: memoryLogger(), suspendAfterSeconds: 60, minimum: '0.50' }).finally(() => {
        reviewed = true;
      });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(reviewed, false, 'the review waits for the invoice the payment holds');
      assert.equal(await markInvoicePaid(paying, 'race-2'), true);
      await paying.query('commit');
      assert.deepEqual(await review, { suspended: 0, reinstated: 0 });
    } finally {
      paying.release();
    }
    const notices = await db.pool.query(`select type from invoicing.notices where account_id = 'acct-race-2' order by seq`);
    assert.deepEqual(
      notices.rows.map((n) => n.type),
      ['invoice.paid'],
    );
  });
});
