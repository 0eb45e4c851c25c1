// A stop learned late whose interval metering's archive settled before the next finalize
// (docs/contracts/invoicing.md, "Late usage"): settled, a row's `last_month` is the month it
// ends, no longer infinity, so bounding the read by the candidate month (`last_month >= month`)
// hid it from every later month that charged the dyno running. For an app a month charged the
// late-usage candidates read every settled month. The gone-account branch of finalize's
// candidates (and so `vault archive`'s gate) and the draft's scoped ones. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { LATE_MARGIN } from '../services/metering/src/archive/archive-usage.ts';
import { lateCandidates } from '../services/invoicing/src/billing/late-usage.ts';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { LATE_MARGIN_INTERVAL } from '../services/invoicing/src/billing/sql.ts';
import { foldAllUsageChanges } from '../services/invoicing/src/billing/usage-days.ts';
import { chargedFor, finalizeAt } from '../services/invoicing/test/late-runs.ts';
import { basicDyno, billingDatabase, seedOwners, seedUsage } from '../services/invoicing/test/seed.ts';

const prices = loadPriceBook();
const MONTHS = ['2026-02', '2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10'];
const periods = (cs: { period: string }[]) => [...new Set(cs.map((c) => c.period))].sort();

describe('late usage settled into a month before the months it changes (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
  });
  after(async () => {
    await db?.drop();
  });

  test('a stop learned late and settled into February, of the account’s only dyno, is a candidate for every month March..October invoiced it running (finalize’s and the draft’s), and November’s invoice credits them', async () => {
    await seedOwners(db.pool, [{ app: 'app-1', account: 'acct-1', from: '2026-01-01T00:00:00Z', learnedAt: '2026-01-01T00:00:01Z' }]);
    await seedUsage(db.pool, [basicDyno('app-1', '2026-01-10T00:00:00Z', undefined, '2026-01-10T00:00:01Z')]);
    await foldAllUsageChanges(db.pool);
    for (const [p, clock] of [['2026-01', '2026-02-05'], ...MONTHS.map((m, i) => [m, `${MONTHS[i + 1] ?? '2026-11'}-05`])] as const)
      await finalizeAt(db.pool, prices, p, `${clock}T00:00:00Z`);
    assert.equal(await chargedFor(db.pool, 'acct-1', '2026-05'), '7.00');

    // The stop (February 15) learned November 20, and the archive settles the interval into February.
    await db.pool.query(
      `update metering.usage_intervals set during = tstzrange(lower(during), '2026-02-15T00:00:00Z'), learned_at = '2026-11-20T00:00:00Z'
        where app_id = 'app-1'`,
    );
    await db.pool.query(
      `insert into metering.archived_subjects (subject, last_sequence, archive_file, closed)
       select subject, 2, 'metering-events-2026-02-0001.ndjson.gz', true from metering.usage_intervals where app_id = 'app-1'`,
    );
    await db.pool.query(`select metering.settle_usage(array(select subject from metering.usage_intervals where app_id = 'app-1'))`);
    const settled = await db.pool.query<{ t: string }>(`select tableoid::regclass::text as t from metering.settled_usage`);
    assert.deepEqual(
      settled.rows.map((r) => r.t),
      ['metering.settled_usage_2026_02'],
    );
    await foldAllUsageChanges(db.pool);

    // No invoice of November yet: finalize's candidates reach the account from its own invoices.
    // January too: the row overlaps it (it charges the same, so no line).
    const before = new Date('2026-12-01T00:00:00Z');
    assert.deepEqual(periods(await lateCandidates(db.pool, before, undefined, LATE_MARGIN_INTERVAL)), ['2026-01', ...MONTHS]);
    assert.deepEqual(periods(await lateCandidates(db.pool, before, ['acct-1'], LATE_MARGIN_INTERVAL)), ['2026-01', ...MONTHS]);

    await finalizeAt(db.pool, prices, '2026-11', '2026-12-05T00:00:00Z');
    for (const m of MONTHS.slice(1)) assert.equal(await chargedFor(db.pool, 'acct-1', m), '0.00', `${m}: credited`);
    assert.notEqual(await chargedFor(db.pool, 'acct-1', '2026-02'), '7.00', 'February: its days after the 15th credited');
  });

  test('metering keeps a settled month with usage learned late at least as long as invoicing takes usage as late (its margin no shorter)', async () => {
    const { rows } = await db.pool.query<{ ok: boolean }>('select $1::interval >= $2::interval as ok', [LATE_MARGIN, LATE_MARGIN_INTERVAL]);
    assert.equal(rows[0]!.ok, true);
  });
});
