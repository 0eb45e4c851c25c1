// Migration 022 (adjusted_apps): each adjustment line's account, the month it
// adjusts and its app, so late usage looks again at a month that charged an
// app only through an adjustment (late-usage-adjusted-months.test.ts is the
// end-to-end case). Run over a database already holding such lines (the
// backfill), then for lines written afterwards through invoice_lines (the
// trigger; finalize writes its own, invoice-store.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { lateCandidates } from '../src/billing/late-usage.ts';
import { LATE_MARGIN_INTERVAL } from '../src/billing/sql.ts';
import { databaseBeforeMigration, seedOwners, seedUsage } from './seed.ts';

const LINE = `insert into invoicing.invoice_lines (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, unit_price,
                                                   amount, description, adjusts, ms) values `;

describe('the months adjustment lines adjust (migration 022), over existing lines and for new ones', () => {
  let db: TestDatabase;
  let older: Awaited<ReturnType<typeof databaseBeforeMigration>> | undefined;
  const adjusted = async () =>
    (await db.pool.query(`select account_id, period, app_id from invoicing.adjusted_apps order by 1, 2, 3`)).rows.map(
      (r: { account_id: string; period: string; app_id: string }) => `${r.account_id}:${r.period}:${r.app_id}`,
    );

  before(async () => {
    const made = await databaseBeforeMigration('adjusted_apps', '022');
    older = made;
    db = made.db;
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, finalized_at) values
         ('inv-oct', 'acct-1', '2026-10', '2026-10-01Z', '2026-11-01Z', '2026-10-000001', 'USD', 25.00, '2026-11-04Z'),
         ('inv-nov', 'acct-1', '2026-11', '2026-11-01Z', '2026-12-01Z', '2026-11-000001', 'USD', 25.00, '2026-12-04Z'),
         ('inv-dec', 'acct-1', '2026-12', '2026-12-01Z', '2027-01-01Z', '2026-12-000001', 'USD', 80.88, '2027-01-04Z')`,
    );
    await db.pool.query('select invoicing.ensure_lines_month(m) from unnest(array[$1, $2, $3]) m', ['2026-10', '2026-11', '2026-12']);
    // December charged x its own month and, learned late, October's 7 days and all November;
    // a carried line names a month too, and is no app's charge.
    await db.pool.query(
      `${LINE}
         ('2026-10-000001', 'inv-oct', 1, 'y', 'dyno', 'web.1', 'dyno:standard-1x', 1, 25.00, 25.00, 'web.1', null, 2678400000),
         ('2026-11-000001', 'inv-nov', 1, 'y', 'dyno', 'web.1', 'dyno:standard-1x', 1, 25.00, 25.00, 'web.1', null, 2592000000),
         ('2026-12-000001', 'inv-dec', 1, 'x', 'dyno', 'web.1', 'dyno:standard-1x', 1, 25.00, 25.00, 'web.1', null, 2678400000),
         ('2026-12-000001', 'inv-dec', 2, 'x', 'adjustment', 'web.1', 'dyno:standard-1x', 0.2258065, 25.00, 5.65, 'Charge', '2026-10', 604800000),
         ('2026-12-000001', 'inv-dec', 3, 'x', 'adjustment', 'web.1', 'dyno:standard-1x', 1, 25.00, 25.00, 'Charge', '2026-11', 2592000000),
         ('2026-12-000001', 'inv-dec', 4, '', 'carried', '2026-09-000001', 'carried', 1, 0.23, 0.23, 'Carried', '2026-09', 0)`,
    );
    await made.migrateRest();
  });
  after(async () => {
    await older?.drop();
  });

  test('the lines already there are noted under the months they adjust; a carried line is not', async () => {
    assert.deepEqual(await adjusted(), ['acct-1:2026-10:x', 'acct-1:2026-11:x']);
  });

  test('so a stop learned late for x, ending before November, makes November a candidate', async () => {
    await seedOwners(db.pool, [{ app: 'x', account: 'acct-1', from: '2026-10-01T00:00:00Z', learnedAt: '2026-10-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      {
        app: 'x',
        kind: 'dyno',
        key: 'web.1',
        product: 'dyno:standard-1x',
        from: '2026-10-25Z',
        to: '2026-10-28Z',
        learnedAt: '2027-01-10Z',
      },
    ]);
    const january = new Date('2027-01-01T00:00:00Z');
    for (const accounts of [undefined, ['acct-1']]) {
      const candidates = await lateCandidates(db.pool, january, accounts, LATE_MARGIN_INTERVAL);
      assert.deepEqual(candidates.map((c) => `${c.account_id}:${c.period}:${c.app_id}`).sort(), [
        'acct-1:2026-10:x',
        'acct-1:2026-11:x',
        'acct-1:2026-12:x',
      ]);
    }
  });

  test('lines written through invoice_lines afterwards are noted by its trigger, once per month and app; the notes never change', async () => {
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, finalized_at) values
         ('inv-jan', 'acct-1', '2027-01', '2027-01-01Z', '2027-02-01Z', '2027-01-000001', 'USD', 0, '2027-02-04Z')`,
    );
    await db.pool.query(`select invoicing.ensure_lines_month('2027-01')`);
    await db.pool.query(
      `${LINE}
         ('2027-01-000001', 'inv-jan', 1, 'x', 'adjustment', 'web.1', 'dyno:standard-1x', -1, 25.00, -25.00, 'Credit', '2026-11', -2592000000),
         ('2027-01-000001', 'inv-jan', 2, 'z', 'adjustment', 'web.1', 'dyno:standard-1x', 1, 25.00, 25.00, 'Charge', '2026-12', 2678400000)`,
    );
    assert.deepEqual(await adjusted(), ['acct-1:2026-10:x', 'acct-1:2026-11:x', 'acct-1:2026-12:z']);
    await assert.rejects(db.pool.query(`delete from invoicing.adjusted_apps`), /a finalized invoice never changes/);
  });
});
