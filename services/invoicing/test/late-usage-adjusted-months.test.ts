// Late usage of a month that charged an app only through an adjustment line
// (docs/contracts/invoicing.md, "Late usage"): a dyno learned late is charged
// to October and November on December's invoice, and invoice_apps records its
// app under December's invoice, not under the months it adjusts. A later event
// that shrinks it (a stop, or a span made empty) must still credit November,
// which it no longer overlaps: finalize, a draft and `vault archive`'s final
// months all read the same candidates. Time between the runs is simulated by
// dating each run's invoices back, as late-usage-runs.test.ts does.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type pg from 'pg';
import type { TestDatabase } from '@vault/testkit';
import { lateAdjustments, lateCandidates } from '../src/billing/late-usage.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { LATE_MARGIN_INTERVAL } from '../src/billing/sql.ts';
import { chargedFor, finalizeAt, pricedNow as pricedNowOf } from './late-runs.ts';
import { billingDatabase, seedOwners, seedUsage, type SeedUsage } from './seed.ts';

const prices = loadPriceBook();
const standard = (app: string, from: string, learnedAt: string): SeedUsage => ({
  app,
  kind: 'dyno',
  key: 'web.1',
  product: 'dyno:standard-1x',
  from,
  learnedAt,
});

/** A stop metering learned at `learnedAt` (seedStop learns it at the database's now, before the simulated runs). */
async function stopLearnedAt(pool: pg.Pool, app: string, at: string, learnedAt: string): Promise<void> {
  const { rowCount } = await pool.query(
    `update metering.usage_intervals set during = tstzrange(lower(during), $2::timestamptz, '[)'), learned_at = $3
      where app_id = $1 and upper_inf(during)`,
    [app, at, learnedAt],
  );
  assert.equal(rowCount, 1);
}

/** A stop at the dyno's own start, learned at `learnedAt`: its span is gone, published as vanished (metering migration 022). */
async function vanishLearnedAt(pool: pg.Pool, app: string, learnedAt: string): Promise<void> {
  const { rows } = await pool.query<{ subject: string; at: Date }>(
    'delete from metering.usage_intervals where app_id = $1 and upper_inf(during) returning subject, lower(during) as at',
    [app],
  );
  assert.equal(rows.length, 1);
  await pool.query(`insert into metering.vanished_spans (subject, kind, app_id, at, learned_at) values ($1, 'dyno', $2, $3, $4)`, [
    rows[0]!.subject,
    app,
    rows[0]!.at,
    learnedAt,
  ]);
}

describe('late usage of a month charged only through an adjustment (real PostgreSQL, finalize)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
  });
  after(async () => {
    await db?.drop();
  });

  const billingAt = (clock: string) =>
    createBilling({ pool: db.pool, prices, graceHours: 72, now: () => DateTime.fromISO(clock, { zone: 'utc' }) });

  const run = (period: string, clock: string, finalizedAt: string) => finalizeAt(db.pool, prices, period, clock, finalizedAt);
  const charged = (account: string, period: string) => chargedFor(db.pool, account, period);
  const pricedNow = (account: string, period: string) => pricedNowOf(db.pool, prices, account, period);

  /** The adjustment lines of the account's invoice of `period` for `app`, as `adjusts amount`. */
  async function adjustments(account: string, period: string, app: string): Promise<string[]> {
    const { rows } = await db.pool.query<{ adjusts: string; amount: string }>(
      `select l.adjusts, l.amount::text from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_number = i.number
        where i.account_id = $1 and i.period = $2 and l.kind = 'adjustment' and l.app_id = $3 order by l.adjusts`,
      [account, period, app],
    );
    return rows.map((r) => `${r.adjusts} ${r.amount}`);
  }

  /**
   * Account `account` owns `x` and `y`; `y` runs all along, so it has an invoice every month. A
   * dyno of `x` started October 25 is learned on December 10: October and November are invoiced
   * with `y` only, and December's invoice charges `x` its own 25.00 and adjusts October (+5.65,
   * 7 of 31 days) and November (+25.00).
   */
  async function chargedOnlyByAdjustment(account: string, x: string, y: string): Promise<void> {
    await seedOwners(db.pool, [
      { app: x, account, from: '2026-10-01T00:00:00Z', learnedAt: '2026-10-01T00:00:00Z' },
      { app: y, account, from: '2026-10-01T00:00:00Z', learnedAt: '2026-10-01T00:00:00Z' },
    ]);
    await seedUsage(db.pool, [standard(y, '2026-10-01T00:00:00Z', '2026-10-01T00:00:00Z')]);
    await run('2026-10', '2026-11-04T00:00:00Z', '2026-11-04T00:00:00Z');
    await run('2026-11', '2026-12-04T00:00:00Z', '2026-12-04T00:00:00Z');
    await seedUsage(db.pool, [standard(x, '2026-10-25T00:00:00Z', '2026-12-10T00:00:00Z')]);
    await run('2026-12', '2027-01-04T00:00:00Z', '2027-01-04T00:00:00Z');
    assert.deepEqual(await adjustments(account, '2026-12', x), ['2026-10 5.65', '2026-11 25.00']);
    assert.equal(await charged(account, '2026-11'), '50.00', 'November charges y, and x through December’s adjustment');
    assert.equal(await charged(account, '2026-12'), '50.00');
  }

  test('a stop learned late that ends before November a dyno November charged only through an adjustment credits November too', async () => {
    const [account, x, y] = ['adj-a', 'adj-x', 'adj-y'];
    await chargedOnlyByAdjustment(account, x, y);

    // Learned on January 10: the dyno stopped on October 28. Its interval no longer reaches November.
    await stopLearnedAt(db.pool, x, '2026-10-28T00:00:00Z', '2027-01-10T00:00:00Z');
    const january = new Date('2027-01-01T00:00:00Z');
    const keys = (rows: readonly { account_id: string; period: string; app_id: string }[]) =>
      rows.map((c) => `${c.account_id}:${c.period}:${c.app_id}`).sort();
    const want = [`${account}:2026-10:${x}`, `${account}:2026-11:${x}`, `${account}:2026-12:${x}`];
    // Finalize's candidates (and `vault archive`'s: firstOpenMonth reads these), and a draft's.
    const all = await lateCandidates(db.pool, january, undefined, LATE_MARGIN_INTERVAL);
    assert.deepEqual(keys(all), want, 'LATE_CANDIDATES');
    assert.deepEqual(keys(await lateCandidates(db.pool, january, [account], LATE_MARGIN_INTERVAL)), want, 'LATE_CANDIDATES_SCOPED');
    // What firstOpenMonth sees as not carried yet: November is not final.
    const pending = await lateAdjustments(db.pool, prices, all);
    assert.deepEqual(
      (pending.get(account) ?? []).map((l) => `${l.adjusts} ${l.amount}`),
      ['2026-10 -3.23', '2026-11 -25.00', '2026-12 -25.00'],
    );
    // January's draft (what the usage page shows) carries November's credit already.
    const draft = await billingAt('2027-01-20T00:00:00Z').draft(account);
    assert.deepEqual(
      draft.lines.filter((l) => l.kind === 'adjustment').map((l) => `${l.adjusts} ${l.amount}`),
      ['2026-10 -3.23', '2026-11 -25.00', '2026-12 -25.00'],
    );

    await run('2027-01', '2027-02-04T00:00:00Z', '2027-02-04T00:00:00Z');
    assert.deepEqual(await adjustments(account, '2027-01', x), ['2026-10 -3.23', '2026-11 -25.00', '2026-12 -25.00']);
    for (const month of ['2026-10', '2026-11', '2026-12']) {
      assert.equal(await charged(account, month), await pricedNow(account, month), `${month}: charged over its invoices, priced now`);
    }
    assert.equal(await charged(account, '2026-11'), '25.00', 'November charges y alone');
  });

  test('a span made empty late (a stop at the dyno’s start) credits a month that charged it only through an adjustment', async () => {
    const [account, x, y] = ['adj-b', 'adj-bx', 'adj-by'];
    await chargedOnlyByAdjustment(account, x, y);

    // Learned on January 10: it stopped at its own start. No interval is left, only the vanished span.
    await vanishLearnedAt(db.pool, x, '2027-01-10T00:00:00Z');
    await run('2027-01', '2027-02-04T00:00:00Z', '2027-02-04T00:00:00Z');
    assert.deepEqual(await adjustments(account, '2027-01', x), ['2026-10 -5.65', '2026-11 -25.00', '2026-12 -25.00']);
    for (const month of ['2026-10', '2026-11', '2026-12']) {
      assert.equal(await charged(account, month), await pricedNow(account, month), `${month}: charged over its invoices, priced now`);
    }
  });
});
