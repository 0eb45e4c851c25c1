// The standing review reads its accounts a page at a time (keyset on account_id), as the charging pass
// reads its candidates: with more accounts than a page, each one whose standing may change is reviewed
// once, none skipped or repeated, and no read returns more than a page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { reviewStandings } from '../src/accounts/standing.ts';
import { chargingDatabase } from './charging-fixture.ts';

const PAGE = 3;
const CLOCK = new Date('2026-12-03T00:00:00Z');
const LONG_AGO = '2026-11-01T00:00:00Z';
const LATELY = '2026-12-02T23:00:00Z';

let invoices = 0;

/** A past-due invoice of `account` for `total`, its charge row past due since `since` (a PaymentIntent held unless `uncharged`). */
async function pastDue(pool: pg.Pool, account: string, since: string, o: { total?: string; uncharged?: boolean } = {}) {
  const id = `inv-${++invoices}`;
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total)
     values ($1, $2, to_char(date '2024-01-01' + $3 * interval '1 month', 'YYYY-MM'), '2026-10-01Z', '2026-11-01Z', $1, 'past_due', 'USD', $4)`,
    [id, account, invoices, o.total ?? '20.00'],
  );
  await pool.query(
    `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, past_due_at) values ($1, $2, 'past_due', 4, $3)`,
    [id, o.uncharged ? null : `pi_${id}`, since],
  );
}

const suspend = (pool: pg.Pool, account: string) =>
  pool.query(`insert into invoicing.account_standing (account_id, suspended_at, suspensions) values ($1, $2, 1)`, [account, LONG_AGO]);

describe('the standing review, a page at a time (real PostgreSQL)', () => {
  let db: TestDatabase;
  const overdue: string[] = [];
  const clear: string[] = [];

  before(async () => {
    db = await chargingDatabase();
    // Interleaved in account order, so pages mix both kinds: overdue and not suspended (some with
    // two overdue invoices, one account per row of the read), and suspended with nothing past due.
    for (let n = 1; n <= 14; n++) {
      const account = `acct-${String(n).padStart(2, '0')}`;
      if (n % 2 === 1) {
        overdue.push(account);
        await pastDue(db.pool, account, LONG_AGO);
        if (n % 3 === 0) await pastDue(db.pool, account, LONG_AGO);
      } else {
        clear.push(account);
        await suspend(db.pool, account);
        // Its only past-due invoice is one finalize carries (below the minimum, never charged): not owed here.
        if (n % 4 === 0) await pastDue(db.pool, account, LONG_AGO, { total: '0.30', uncharged: true });
      }
    }
    // Not candidates: past due too lately, suspended and still past due, past due only below the minimum.
    await pastDue(db.pool, 'acct-a-lately', LATELY);
    await suspend(db.pool, 'acct-b-still-owes');
    await pastDue(db.pool, 'acct-b-still-owes', LONG_AGO);
    await pastDue(db.pool, 'acct-c-small', LONG_AGO, { total: '0.30', uncharged: true });
  });
  after(() => db?.drop());

  test('more accounts than a page: each reviewed once, in account order, none skipped or repeated, no read over a page', async () => {
    const reviewed: string[] = [];
    const reads: number[] = [];
    const query = db.pool.query;
    db.pool.query = function (this: pg.Pool, ...a: unknown[]) {
      const result = (query as (...b: unknown[]) => Promise<pg.QueryResult>).apply(this, a);
      if (typeof a[0] === 'string' && /select distinct i\.account_id/.test(a[0])) void result.then((r) => reads.push(r.rows.length));
      return result;
    } as never;
    let report: Awaited<ReturnType<typeof reviewStandings>>;
    try {
      report = await reviewStandings({
        pool: db.pool,
        log: memoryLogger(),
        suspendAfterSeconds: 14 * 86_400,
        minimum: '0.50',
        now: () => CLOCK,
        page: PAGE,
        beforeReview: async (accountId) => {
          reviewed.push(accountId);
        },
      });
    } finally {
      db.pool.query = query;
    }

    const expected = [...overdue, ...clear].sort();
    assert.deepEqual([...reviewed].sort(), expected, 'every candidate once: none skipped, none repeated');
    assert.deepEqual(report, { suspended: overdue.length, reinstated: clear.length });
    assert.deepEqual(
      reads,
      [3, 3, 3, 3, 2],
      `a page of ${PAGE} at a time, the last one short ending the review; no read holding every account`,
    );
    assert.deepEqual(reviewed, expected, 'in account order (the keyset)');
    const { rows } = await db.pool.query<{ account_id: string; suspended: boolean }>(
      `select account_id, suspended_at is not null as suspended from invoicing.account_standing order by account_id`,
    );
    assert.deepEqual(
      rows.filter((r) => r.suspended).map((r) => r.account_id),
      [...overdue, 'acct-b-still-owes'],
      'the overdue suspended, the clear reinstated, the rest as they were',
    );

    // The same review again: nothing left to change, every page read finds none.
    const again = await reviewStandings({
      pool: db.pool,
      log: memoryLogger(),
      suspendAfterSeconds: 14 * 86_400,
      minimum: '0.50',
      now: () => CLOCK,
      page: PAGE,
    });
    assert.deepEqual(again, { suspended: 0, reinstated: 0 });
  });

  test('a page that is not a positive integer is refused, naming it', async () => {
    await assert.rejects(
      reviewStandings({ pool: db.pool, log: memoryLogger(), suspendAfterSeconds: 60, minimum: '0.50', page: 0 }),
      /review page must be a positive integer, got 0/,
    );
  });
});
