// Review R2, finding 1 (docs/contracts/invoicing.md, "Finalize schedule"): the
// schedule skips a month whose last run held nothing and since whose snapshot
// (less the late margin) metering learned nothing, both read from the database's
// clock. A clock stepped back (an NTP correction, a failover) dates what metering
// learns after the step before the note's snapshot: a tick that then skipped would
// never invoice it. When the clock reads earlier than a due month's note, every
// due month runs, and the tick says so once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { startSchedule } from '../src/billing/schedule.ts';
import { basicDyno, billingDatabase, seedOwners, seedUsage } from './seed.ts';

const CLOCK = '2026-11-20T00:00:00Z';
const now = () => DateTime.fromISO(CLOCK, { zone: 'utc' });
const prices = loadPriceBook();

/** One schedule tick, as the service runs it; its log lines. */
async function oneTick(pool: pg.Pool): Promise<string[]> {
  const log = memoryLogger();
  const billing = createBilling({ pool, prices, graceHours: 72, now, log });
  const schedule = startSchedule({ pool, billing, graceHours: 72, everyMs: 3_600_000, log, now });
  try {
    await eventually('a tick', async () => log.lines.some((l) => l.includes('invoicing.schedule_tick')), 60_000);
  } finally {
    await schedule.stop();
  }
  assert.deepEqual(
    log.lines.filter((l) => l.includes('schedule_failed')),
    [],
  );
  return log.lines;
}

const invoicesOf = async (pool: pg.Pool, account: string) =>
  (
    await pool.query<{ p: string; t: string }>(
      'select period as p, total::text as t from invoicing.invoices where account_id = $1 order by 1',
      [account],
    )
  ).rows.map((r) => `${r.p} ${r.t}`);

describe("the finalize schedule when the database's clock reads earlier than a month's note", () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await seedOwners(db.pool, [{ app: 'a1', account: 'acct-1', from: '2026-10-01T00:00:00Z', learnedAt: '2026-10-01T00:00:00Z' }]);
    await seedUsage(db.pool, [basicDyno('a1', '2026-10-01T00:00:00Z', '2026-10-20T00:00:00Z', '2026-10-01T00:00:00Z')]);
    await createBilling({ pool: db.pool, prices, graceHours: 72, now }).finalize('2026-10');
  });
  after(async () => db?.drop());

  test('usage learned after the clock stepped back two hours is finalized by the next tick, as a forced finalize does, and the tick warns once', async () => {
    const pool = db.pool;
    // The run's clock was two hours ahead; then it was set right.
    await pool.query(`update invoicing.finalize_complete set snapshot_at = now() + interval '2 hours' where period = '2026-10'`);
    // Learned now, by the corrected clock: more than the margin before the note's snapshot.
    await seedOwners(pool, [{ app: 'a2', account: 'acct-2', from: '2026-10-01T00:00:00Z' }]);
    await seedUsage(pool, [basicDyno('a2', '2026-10-01T00:00:00Z', '2026-10-31T00:00:00Z')]);

    const lines = await oneTick(pool);
    const afterTick = await invoicesOf(pool, 'acct-2');
    await createBilling({ pool, prices, graceHours: 72, now }).finalize('2026-10');
    const afterForced = await invoicesOf(pool, 'acct-2');
    assert.deepEqual(afterTick, afterForced, 'the schedule skipped a month a forced run finalizes');
    assert.equal(afterTick.length, 1);
    const warned = lines.filter((l) => l.includes('invoicing.schedule_clock_behind'));
    assert.equal(warned.length, 1, lines.join('\n'));
    assert.match(warned[0]!, /at=warn .*period=2026-10 .*action="every due month finalized this tick"/);
    assert.ok(
      lines.some((l) => /invoicing\.schedule_tick .*months_complete=0/.test(l)),
      lines.join('\n'),
    );
  });

  test('once the runs noted the month by the corrected clock, a tick skips it again and says nothing of the clock', async () => {
    // Nothing learned within the margin of the runs' notes: acct-2's rows learned long before.
    await db.pool.query(`update metering.usage_intervals set learned_at = learned_at - interval '2 hours' where app_id = 'a2'`);
    await db.pool.query(`update metering.app_ownership set learned_at = learned_at - interval '2 hours' where app_id = 'a2'`);
    const lines = await oneTick(db.pool);
    assert.deepEqual(
      lines.filter((l) => l.includes('schedule_clock_behind')),
      [],
    );
    assert.ok(
      lines.some((l) => /invoicing\.schedule_tick .*months_complete=1/.test(l)),
      lines.join('\n'),
    );
  });
});
