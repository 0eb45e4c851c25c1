// Issue 19: an account's current usage read from the maintained aggregates
// (invoicing.usage_days plus what is read live) equals the live computation
// (LINE_USAGE_SQL, readDailyUsage) for random months on the real PostgreSQL:
// microsecond bounds, running intervals, transfers and ownerless spans, and
// late changes (stops learned late, intervals derived again as metering does,
// new intervals, transfers) before, during and after the fold job runs. So
// does finalize's read of the whole month (invoicing.usage_months plus what is
// read live), and its unowned-usage holds (invoicing.unowned_months and
// usage_running plus what is read live) equal the live UNOWNED statement's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { TestDatabase } from '@vault/testkit';
import { readAccountDays, readAccountUsage } from '../src/billing/account-usage.ts';
import { foldAllUsageChanges, foldUsageChanges } from '../src/billing/usage-days.ts';
import { billingDatabase } from './seed.ts';
import {
  APPS,
  HOUR,
  MONTH_END,
  MONTH_START,
  applyLate,
  assertSameAsLive,
  assertSameAsRefolded,
  scenarioArb,
  writeOwners,
  writeSubject,
} from './usage-days-world.ts';

const RUNS = Number(process.env.USAGE_DAYS_RUNS ?? 60);

let db: TestDatabase;

describe('usage aggregates (real PostgreSQL)', () => {
  before(async () => {
    db = await billingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test(`over ${RUNS} random months, one account's usage and finalize's month from the aggregates equal the live computation, before and after late changes are folded`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        await db.pool.query(
          'truncate metering.usage_intervals, metering.app_ownership, metering.usage_changes, invoicing.usage_days, invoicing.usage_months, invoicing.usage_running, invoicing.unowned_months',
        );
        for (const s of scenario.subjects) await writeSubject(db.pool, s);
        for (const [i, spans] of scenario.owners.entries()) await writeOwners(db.pool, APPS[i]!, spans);
        await assertSameAsLive(db.pool, scenario.untils, 'nothing folded');
        await foldAllUsageChanges(db.pool);
        const { rows } = await db.pool.query<{ n: string }>('select count(*)::text as n from metering.usage_changes');
        assert.equal(rows[0]!.n, '0', 'a full fold leaves nothing queued');
        await assertSameAsLive(db.pool, scenario.untils, 'folded');
        for (const late of scenario.late) await applyLate(db.pool, late);
        if (scenario.foldAfter === 'some') await foldUsageChanges(db.pool, 1);
        if (scenario.foldAfter === 'all') await foldAllUsageChanges(db.pool);
        await assertSameAsLive(db.pool, [...scenario.untils, MONTH_END - MONTH_START], `late changes, fold ${scenario.foldAfter}`);
        await foldAllUsageChanges(db.pool);
        await assertSameAsLive(db.pool, [...scenario.untils, MONTH_END - MONTH_START], 'late changes folded');
        await assertSameAsRefolded(db.pool);
      }),
      { numRuns: RUNS },
    );
  });

  test('a window that does not start on a UTC day is left to the live statement', async () => {
    const from = new Date(MONTH_START + HOUR);
    assert.equal(await readAccountUsage(db.pool, { account: 'acct-a', from, to: new Date(MONTH_END) }), undefined);
    assert.equal(await readAccountDays(db.pool, { account: 'acct-a', from, to: new Date(MONTH_END) }), undefined);
  });
});
