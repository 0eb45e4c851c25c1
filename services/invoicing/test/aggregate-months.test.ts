// The usage aggregates before metering's usage horizon (issue 19): final, never
// read by billing again, so `vault archive` deletes them — usage_days by key
// ranges of accounts, usage_months by month — and the fold, clamped to the
// horizon, never writes them again. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { deleteFinalAggregates } from '../src/billing/aggregate-months.ts';
import { foldAllUsageChanges } from '../src/billing/usage-days.ts';
import { basicDyno, billingDatabase, seedOwners, seedUsage } from './seed.ts';

const dyno = (app: string, from: string, to: string) => basicDyno(app, from, to);
const aggregates = async (db: TestDatabase) => ({
  days: (await db.pool.query(`select account_id, day::text, app_id, product, ms::text from invoicing.usage_days order by 1, 2, 3`)).rows,
  months: (await db.pool.query(`select month::text, account_id, app_id, product, ms::text from invoicing.usage_months order by 1, 2, 3`))
    .rows,
});
const at = (t: string) => new Date(t).toISOString();

describe('the usage aggregates before the horizon (real PostgreSQL)', () => {
  let db: TestDatabase;
  after(() => db?.drop());

  test('are deleted, days and months, for every account; from the horizon on they stay; a change reaching back writes none before it again', async () => {
    db = await billingDatabase();
    await seedOwners(db.pool, [
      { app: 'app-1', account: 'acct-1', from: '2026-01-01T00:00:00Z' },
      { app: 'app-2', account: 'acct-2', from: '2026-01-01T00:00:00Z' },
    ]);
    await seedUsage(db.pool, [
      dyno('app-1', '2026-08-31T12:00:00Z', '2026-09-01T12:00:00Z'),
      dyno('app-1', '2026-10-05T00:00:00Z', '2026-10-06T00:00:00Z'),
      dyno('app-2', '2026-09-10T00:00:00Z', '2026-09-11T00:00:00Z'),
    ]);
    await foldAllUsageChanges(db.pool);
    const before = await aggregates(db);
    assert.equal(before.days.length, 4);
    await db.pool.query(`insert into metering.usage_horizon (month) values ('2026-10-01')`);
    const lines: string[] = [];
    const deleted = await deleteFinalAggregates(db.pool, '2026-10', (l) => {
      lines.push(l);
    });
    assert.deepEqual(deleted, { days: 3, months: 3 });
    assert.deepEqual(lines, ["deleted invoicing's usage aggregates before 2026-10 (final): 3 days and 3 months of rows"]);
    const kept = await aggregates(db);
    const october = (d: { day?: string; month?: string }) => new Date(d.day ?? d.month!).getTime() >= Date.parse('2026-10-01T00:00:00Z');
    assert.deepEqual(kept.days, before.days.filter(october));
    assert.deepEqual(kept.months, before.months.filter(october));
    assert.equal(kept.days.length, 1);

    // A change reaching back before the horizon is folded from the horizon on.
    await seedUsage(db.pool, [dyno('app-1', '2026-09-10T00:00:00Z', '2026-10-02T00:00:00Z')]);
    await foldAllUsageChanges(db.pool);
    const after = await aggregates(db);
    assert.ok(after.days.every(october) && after.months.every(october), 'nothing before the horizon written again');
    const octoberMs = after.months.filter((m) => m.account_id === 'acct-1').map((m) => m.ms);
    assert.deepEqual(octoberMs, [String(86_400_000 + 86_400_000)], "October's first day of the new interval and the old one's day");
    assert.equal(at(after.months[0]!.month), '2026-10-01T00:00:00.000Z');
  });
});
