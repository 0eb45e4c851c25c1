// Invoicing on a database an earlier commit migrated, with the rows that commit's
// code wrote: today's migrations apply (the earlier version is accepted) and the
// follow-up brings the rows to today's shape, so finalize and the fold work on them.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { finalizePeriod } from '../services/invoicing/src/billing/finalize.ts';
import { unfinishedRun } from '../services/invoicing/src/billing/finalize-runs.ts';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { foldAllUsageChanges } from '../services/invoicing/src/billing/usage-days.ts';
import { parsePeriod } from '../services/invoicing/src/domain/period.ts';
import { seedOwners, seedUsage } from '../services/invoicing/test/seed.ts';
import { earlierState, migrateAsOf, migrateNow } from './earlier-migrations.ts';

const dbs: TestDatabase[] = [];
async function database(): Promise<pg.Pool> {
  const db = await freshDatabase('earlier_invoicing');
  dbs.push(db);
  return db.pool;
}

/** usage_days' rows, as the fold keeps them. */
async function days(pool: pg.Pool): Promise<{ app_id: string; day: string; month: string; ms: string }[]> {
  const { rows } = await pool.query(
    `select app_id, to_char(day at time zone 'UTC', 'YYYY-MM-DD') as day, to_char(month at time zone 'UTC', 'YYYY-MM-DD') as month, ms::text
       from invoicing.usage_days order by app_id, day`,
  );
  return rows;
}

describe('invoicing upgraded from a database an earlier commit migrated (real PostgreSQL)', () => {
  after(async () => {
    for (const db of dbs) await db.drop();
  });

  test("019's first version (e301b58): its runs get a `run` each, a killed run's month is finalized and completed by the next run", async () => {
    const pool = await database();
    await migrateAsOf(pool, earlierState('e301b58'));
    // What that release's finalize wrote: February's run completed, March's killed after its first chunk.
    await pool.query(
      `insert into invoicing.finalize_runs (period, started, completed, started_at, completed_at) values
         ('2026-02', 1, 1, '2026-03-04T00:00:00Z', '2026-03-04T00:01:00Z'), ('2026-03', 1, 0, '2026-04-04T00:00:00Z', null)`,
    );
    await migrateNow(pool);
    const { rows: runs } = await pool.query<{ period: string; run: string }>(
      'select period, run::text from invoicing.finalize_runs order by 1',
    );
    assert.deepEqual(
      runs.map((r) => r.period),
      ['2026-02', '2026-03'],
    );
    assert.equal(new Set(runs.map((r) => r.run)).size, 2, 'each month its own run');
    assert.ok(await unfinishedRun(pool, '2026-03'), 'the killed run is still unfinished');

    await seedOwners(pool, [{ app: 'app-1', account: 'acct-1', from: '2026-02-01T00:00:00Z' }]);
    await seedUsage(pool, [
      { app: 'app-1', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z' },
    ]);
    const march = await finalizePeriod(
      { pool, prices: loadPriceBook(), graceHours: 72, now: () => DateTime.fromISO('2026-04-10T00:00:00Z', { zone: 'utc' }) },
      parsePeriod('2026-03'),
    );
    assert.equal(march.finalized, 1);
    const { rows } = await pool.query(`select started, completed from invoicing.finalize_runs where period = '2026-03'`);
    assert.deepEqual(rows, [{ started: 2, completed: 2 }]);
    assert.equal(await unfinishedRun(pool, '2026-03'), undefined);
  });

  test("012's first version (fa5533e): usage_days' rows get their month, and the fold writes days again", async () => {
    const pool = await database();
    await migrateAsOf(pool, earlierState('fa5533e'));
    // A day that release's fold wrote, without a month.
    await pool.query(
      `select set_config('invoicing.fold_keeps', 'running and unowned', false);
       insert into invoicing.usage_days (account_id, day, app_id, kind, key, product, ms)
       values ('acct-1', '2026-03-31T00:00:00Z', 'app-1', 'dyno', 'web.1', 'dyno:basic', 3600000)`,
    );
    await migrateNow(pool);
    assert.deepEqual(await days(pool), [{ app_id: 'app-1', day: '2026-03-31', month: '2026-03-01', ms: '3600000' }]);

    await seedOwners(pool, [{ app: 'app-2', account: 'acct-2', from: '2026-02-01T00:00:00Z' }]);
    await seedUsage(pool, [
      { app: 'app-2', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-04-01T00:00:00Z', to: '2026-04-01T02:00:00Z' },
    ]);
    assert.ok((await foldAllUsageChanges(pool)) > 0);
    assert.deepEqual((await days(pool)).at(-1), { app_id: 'app-2', day: '2026-04-01', month: '2026-04-01', ms: '7200000' });
  });

  test('018_usage_by_month, removed since (0707304): the aggregates are one table each again, every row kept, and the fold writes a month it never made', async () => {
    const pool = await database();
    await migrateAsOf(pool, earlierState('0707304'));
    await pool.query(
      `select set_config('invoicing.fold_keeps', 'running and unowned', false);
       select invoicing.ensure_usage_month('2026-03-01T00:00:00Z');
       insert into invoicing.usage_days (account_id, day, app_id, kind, key, product, ms, month)
       values ('acct-1', '2026-03-31T00:00:00Z', 'app-1', 'dyno', 'web.1', 'dyno:basic', 3600000, '2026-03-01T00:00:00Z');
       insert into invoicing.usage_months (month, account_id, app_id, kind, key, product, ms)
       values ('2026-03-01T00:00:00Z', 'acct-1', 'app-1', 'dyno', 'web.1', 'dyno:basic', 3600000)`,
    );
    await migrateNow(pool);
    const { rows: kinds } = await pool.query(
      `select relname, relkind from pg_class where relnamespace = 'invoicing'::regnamespace and relname ~ '^usage_(days|months)' order by 1`,
    );
    assert.deepEqual(kinds, [
      { relname: 'usage_days', relkind: 'r' },
      { relname: 'usage_days_by_app', relkind: 'i' },
      { relname: 'usage_days_pkey', relkind: 'i' },
      { relname: 'usage_months', relkind: 'r' },
      { relname: 'usage_months_by_app', relkind: 'i' },
      { relname: 'usage_months_pkey', relkind: 'i' },
    ]);
    assert.deepEqual(await days(pool), [{ app_id: 'app-1', day: '2026-03-31', month: '2026-03-01', ms: '3600000' }]);
    const { rows: months } = await pool.query(`select app_id, ms::text from invoicing.usage_months`);
    assert.deepEqual(months, [{ app_id: 'app-1', ms: '3600000' }]);

    // May has no month's table: the partitioned one refused the fold's rows.
    await seedOwners(pool, [{ app: 'app-2', account: 'acct-2', from: '2026-02-01T00:00:00Z' }]);
    await seedUsage(pool, [
      { app: 'app-2', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-05-01T00:00:00Z', to: '2026-05-01T01:00:00Z' },
    ]);
    assert.ok((await foldAllUsageChanges(pool)) > 0);
    assert.deepEqual((await days(pool)).at(-1), { app_id: 'app-2', day: '2026-05-01', month: '2026-05-01', ms: '3600000' });
  });
});
