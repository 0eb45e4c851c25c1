// The usage aggregates by month (issue 19, migration 018): usage_days and
// usage_months are tables per UTC month, made by the fold as it reaches a
// month; `vault archive` drops those before metering's usage horizon (final,
// never read by billing again), and a killed run's leftovers with them. The
// migration moves what 017 had into the months' tables. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { withTransaction } from '@vault/db';
import type { TestDatabase } from '@vault/testkit';
import { dropFinalAggregateMonths } from '../src/billing/aggregate-months.ts';
import { foldAllUsageChanges } from '../src/billing/usage-days.ts';
import { billingDatabase, databaseBeforeMigration, seedOwners, seedUsage } from './seed.ts';

const dyno = (app: string, from: string, to: string) => ({ app, kind: 'dyno' as const, key: 'web.1', product: 'dyno:basic', from, to });
/**
 * The month tables up to October 2026, this test's months: a fold also makes
 * every month from its changes' to the current one and the next two, empty.
 */
const monthTables = async (db: TestDatabase) =>
  (
    await db.pool.query<{ relname: string }>(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'invoicing' and c.relkind = 'r' and c.relname ~ '^usage_(days|months)_[0-9]'
          and substr(c.relname, length(c.relname) - 6) <= '2026_10' order by 1`,
    )
  ).rows.map((r) => r.relname);
const aggregates = async (db: TestDatabase) => ({
  days: (await db.pool.query(`select account_id, day::text, app_id, product, ms::text from invoicing.usage_days order by 1, 2, 3`)).rows,
  months: (await db.pool.query(`select month::text, account_id, app_id, product, ms::text from invoicing.usage_months order by 1, 2, 3`))
    .rows,
});

describe('the usage aggregates by month (real PostgreSQL)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(() => Promise.all(cleanups.map((c) => c())));

  test('the fold makes the month tables it writes; those before the horizon are dropped, later ones and their rows stay', async () => {
    const db = await billingDatabase();
    cleanups.push(() => db.drop());
    await seedOwners(db.pool, [{ app: 'app-1', account: 'acct-1', from: '2026-01-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      dyno('app-1', '2026-08-31T12:00:00Z', '2026-09-01T12:00:00Z'),
      dyno('app-1', '2026-10-05T00:00:00Z', '2026-10-06T00:00:00Z'),
    ]);
    await foldAllUsageChanges(db.pool);
    const made = await monthTables(db);
    for (const m of ['2026_08', '2026_09', '2026_10']) {
      assert.ok(made.includes(`usage_days_${m}`) && made.includes(`usage_months_${m}`), `${m} made: ${made}`);
    }
    const before = await aggregates(db);
    assert.equal(before.days.length, 3);
    // A killed run left September's days detached.
    await db.pool.query('alter table invoicing.usage_days detach partition invoicing.usage_days_2026_09');
    await db.pool.query(`insert into metering.usage_horizon (month) values ('2026-10-01')`);
    const lines: string[] = [];
    const dropped = await dropFinalAggregateMonths(db.pool, '2026-10', (l) => {
      lines.push(l);
    });
    // The months from the ownership's change (January) on were made, empty where no usage was.
    assert.deepEqual(dropped, ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09']);
    assert.deepEqual(lines.at(-1), "dropped invoicing's usage aggregates of 2026-09 (final, before the usage horizon)");
    assert.deepEqual(await monthTables(db), ['usage_days_2026_10', 'usage_months_2026_10']);
    const kept = await aggregates(db);
    assert.deepEqual(
      kept.days,
      before.days.filter((d) => d.day >= '2026-10'),
    );
    // A change reaching back before the horizon is folded from the horizon on: no month before it is made again.
    await seedUsage(db.pool, [dyno('app-1', '2026-09-10T00:00:00Z', '2026-10-02T00:00:00Z')]);
    await foldAllUsageChanges(db.pool);
    assert.deepEqual(await monthTables(db), ['usage_days_2026_10', 'usage_months_2026_10']);
    const october = (await aggregates(db)).months;
    assert.deepEqual(
      october.map((m) => m.ms),
      [String(86_400_000 + 86_400_000)],
      "October's first day of the new interval and the old one",
    );
  });

  test('a month’s tables are made under an exclusive lock of both: while a reader holds either, it is not made (55P03 at once, tried again later), then it is; the fold makes this month and the next two ahead', async () => {
    const db = await billingDatabase();
    cleanups.push(() => db.drop());
    await foldAllUsageChanges(db.pool);
    const ahead = await db.pool.query<{ n: number }>(
      `select count(*)::int as n from pg_class
        where relname in (select 'usage_days_' || to_char((now() at time zone 'UTC') + m * interval '1 month', 'YYYY_MM')
                            from generate_series(0, 2) m)`,
    );
    assert.equal(ahead.rows[0]!.n, 3);
    for (const [table, month] of [
      ['usage_days', '2026-05'],
      ['usage_months', '2026-06'],
    ] as const) {
      const reader = await db.pool.connect();
      try {
        await reader.query('begin');
        // A statement planned before the month's table exists; its transaction still open.
        await reader.query(`select count(*) from invoicing.${table} where month >= '2026-01-01T00:00:00Z'`);
        await assert.rejects(db.pool.query(`select invoicing.ensure_usage_month('${month}-01T00:00:00Z')`), (err: { code?: string }) => {
          assert.equal(err.code, '55P03', `${table}: the lock is not granted while a reader holds it`);
          return true;
        });
        assert.equal((await monthTables(db)).filter((t) => t.endsWith(month.replace('-', '_'))).length, 0, 'nothing made');
        await reader.query('commit');
      } finally {
        reader.release();
      }
      await db.pool.query(`select invoicing.ensure_usage_month('${month}-01T00:00:00Z')`);
      assert.equal((await monthTables(db)).filter((t) => t.endsWith(month.replace('-', '_'))).length, 2);
    }
  });

  test('a month a killed drop left detached stops the fold by name, and the next archive run clears it', async () => {
    const db = await billingDatabase();
    cleanups.push(() => db.drop());
    await db.pool.query(`select invoicing.ensure_usage_month('2026-07-01T00:00:00Z')`);
    await db.pool.query('alter table invoicing.usage_months detach partition invoicing.usage_months_2026_07');
    await assert.rejects(
      db.pool.query(`select invoicing.ensure_usage_month('2026-07-01T00:00:00Z')`),
      /usage_months_2026_07 exists but is not a partition of usage_months/,
    );
    await assert.rejects(db.pool.query(`select invoicing.ensure_usage_month('2026-07-02T00:00:00Z')`), /first instant/);
  });

  test('migration 018 moves what 017 kept into the months’ tables, row for row', async () => {
    const older = await databaseBeforeMigration('aggregate_months', '018');
    cleanups.push(() => older.drop());
    const { db } = older;
    // As the fold of 017's code left them (this code's fold needs 018's tables).
    await withTransaction(db.pool, async (client) => {
      await client.query(`select set_config('invoicing.fold_keeps', 'running and unowned', true)`);
      await client.query(
        `insert into invoicing.usage_days (account_id, day, month, app_id, kind, key, product, ms)
         values ('acct-2', '2026-06-30T00:00:00Z', '2026-06-01T00:00:00Z', 'app-2', 'dyno', 'web.1', 'dyno:basic', 86400000),
                ('acct-2', '2026-07-01T00:00:00Z', '2026-07-01T00:00:00Z', 'app-2', 'dyno', 'web.1', 'dyno:basic', 86400000)`,
      );
      await client.query(
        `insert into invoicing.usage_months (month, account_id, app_id, kind, key, product, ms)
         values ('2026-06-01T00:00:00Z', 'acct-2', 'app-2', 'dyno', 'web.1', 'dyno:basic', 86400000),
                ('2026-07-01T00:00:00Z', 'acct-2', 'app-2', 'dyno', 'web.1', 'dyno:basic', 86400000)`,
      );
    });
    const before = await aggregates(db);
    assert.equal(before.months.length, 2);
    await older.migrateRest();
    assert.deepEqual(await aggregates(db), before);
    assert.deepEqual(await monthTables(db), ['usage_days_2026_06', 'usage_days_2026_07', 'usage_months_2026_06', 'usage_months_2026_07']);
    // The guard of 017 is on the new table: a write that is no fold is refused.
    await assert.rejects(
      db.pool.query(
        `insert into invoicing.usage_days (account_id, day, app_id, kind, key, product, ms, month)
         values ('a', '2026-07-03T00:00:00Z', 'x', 'dyno', 'k', 'p', 1, '2026-07-01T00:00:00Z')`,
      ),
      /refused: the fold keeps usage_running and unowned_months/,
    );
  });
});
