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
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { readAccountDays, readAccountUsage } from '../src/billing/account-usage.ts';
import { foldAllUsageChanges, foldUsageChanges } from '../src/billing/usage-days.ts';
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
  clearUsage,
  writeSubject,
  suitePool,
} from './usage-days-world.ts';

const RUNS = Number(process.env.USAGE_DAYS_RUNS ?? 60);

describe('usage aggregates (real PostgreSQL)', () => {
  const pool = suitePool();

  test(`over ${RUNS} random months, one account's usage and finalize's month from the aggregates equal the live computation, before and after late changes are folded`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        await clearUsage(pool());
        for (const s of scenario.subjects) await writeSubject(pool(), s);
        for (const [i, spans] of scenario.owners.entries()) await writeOwners(pool(), APPS[i]!, spans);
        await assertSameAsLive(pool(), scenario.untils, 'nothing folded');
        await foldAllUsageChanges(pool());
        const { rows } = await pool().query<{ n: string }>('select count(*)::text as n from metering.usage_changes');
        assert.equal(rows[0]!.n, '0', 'a full fold leaves nothing queued');
        await assertSameAsLive(pool(), scenario.untils, 'folded');
        for (const late of scenario.late) await applyLate(pool(), late);
        if (scenario.foldAfter === 'some') await foldUsageChanges(pool(), 1);
        if (scenario.foldAfter === 'all') await foldAllUsageChanges(pool());
        await assertSameAsLive(pool(), [...scenario.untils, MONTH_END - MONTH_START], `late changes, fold ${scenario.foldAfter}`);
        await foldAllUsageChanges(pool());
        await assertSameAsLive(pool(), [...scenario.untils, MONTH_END - MONTH_START], 'late changes folded');
        await assertSameAsRefolded(pool());
      }),
      { numRuns: RUNS },
    );
  });

  test('a window that does not start on a UTC day is left to the live statement', async () => {
    const from = new Date(MONTH_START + HOUR);
    assert.equal(await readAccountUsage(pool(), { account: 'acct-a', from, to: new Date(MONTH_END) }), undefined);
    assert.equal(await readAccountDays(pool(), { account: 'acct-a', from, to: new Date(MONTH_END) }), undefined);
  });
});
