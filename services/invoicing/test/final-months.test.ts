// Final months and the usage horizon (issue 19; docs/contracts/invoicing.md,
// "Final months"). `vault archive` moves metering's usage horizon only past
// months invoicing holds final: each reason a month stays open is found and
// named (an account's usage, closed or running, without its invoice; late
// usage not yet carried, while a long interval learned again but charging the
// same is not; usage no owner covers, closed or running; a sequence hole). It
// folds what is queued first, under the fold's lock. Once the
// horizon is past a month, invoicing never reads its usage again: finalize
// refuses it, it is never a late-usage candidate, the fold keeps its
// aggregates, the schedule starts at the horizon. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { withTransaction } from '@vault/db';
import type { TestDatabase } from '@vault/testkit';
import { firstOpenMonth } from '../src/billing/final-months.ts';
import { FinalMonthError } from '../src/billing/finalize.ts';
import { lateCandidates } from '../src/billing/late-usage.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { dueMonths } from '../src/billing/schedule.ts';
import { createBilling } from '../src/billing/service.ts';
import { LATE_MARGIN_INTERVAL } from '../src/billing/sql.ts';
import { foldAllUsageChanges } from '../src/billing/usage-days.ts';
import { basicDyno, billingDatabase, seedGap, seedOwners, seedStop, seedUsage } from './seed.ts';

const prices = loadPriceBook();
const dyno = (app: string, from: string, to: string, learnedAt: string) => basicDyno(app, from, to, learnedAt);

describe('final months and the usage horizon (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    // Runs are dated back to when they would have run.
    await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
    await seedOwners(db.pool, [{ app: 'app-a', account: 'acct-a', from: '2026-07-01T00:00:00Z', learnedAt: '2026-07-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      dyno('app-a', '2026-08-03T00:00:00Z', '2026-08-05T00:00:00Z', '2026-08-05T00:00:00Z'),
      dyno('app-a', '2026-09-02T00:00:00Z', '2026-09-03T00:00:00Z', '2026-09-03T00:00:00Z'),
      // Running since August: billed to each month's end.
      basicDyno('app-a', '2026-08-10T00:00:00Z', undefined, '2026-08-10T00:00:00Z', 'worker.1'),
    ]);
    await foldAllUsageChanges(db.pool);
  });
  after(async () => {
    await db?.drop();
  });

  /** Finalizes a month as of `clock`, its invoices dated `clock` as if the run had been then. */
  async function finalize(period: string, clock: string): Promise<void> {
    const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => DateTime.fromISO(clock, { zone: 'utc' }) });
    await billing.finalize(period);
    await db.pool.query('update invoicing.invoices set finalized_at = $2 where period = $1', [period, clock]);
  }
  /** The gate as `vault archive` runs it: in a transaction of its own (metering's horizon move). */
  const open = (before = '2026-11', from: string | null = null) =>
    withTransaction(db.pool, (client) => firstOpenMonth(client, { before, from, prices }));

  test('a month with an account’s usage and no invoice of it is open, until it is finalized', async () => {
    const first = await open();
    assert.equal(first?.period, '2026-08');
    assert.match(first!.reason, /account acct-a has usage in it and no invoice of it/);
    await finalize('2026-08', '2026-09-05T00:00:00Z');
    assert.equal((await open())?.period, '2026-09');
    await finalize('2026-09', '2026-10-05T00:00:00Z');
    assert.equal(await open('2026-10'), null, 'August and September invoiced');
    const running = await open();
    assert.equal(running?.period, '2026-10', 'October is billed the running dyno');
    assert.match(running!.reason, /account acct-a has usage running in it and no invoice of it/);
    assert.equal(await open('2026-11', '2026-11'), null, 'nothing is looked at before `from`');
  });

  test('late usage keeps its month open until a finalize carries it', async () => {
    await seedUsage(db.pool, [dyno('app-a', '2026-08-20T00:00:00Z', '2026-08-21T00:00:00Z', '2026-10-10T00:00:00Z')]);
    const first = await open('2026-10');
    assert.equal(first?.period, '2026-08');
    assert.match(first!.reason, /late usage of app app-a for account acct-a is not carried onto an invoice yet/);
    await finalize('2026-10', '2026-11-05T00:00:00Z');
    const adjustment = await db.pool.query(
      `select l.adjusts from invoicing.invoice_lines l join invoicing.invoices i on i.number = l.invoice_number where i.period = '2026-10' and l.adjusts is not null`,
    );
    assert.deepEqual(
      adjustment.rows.map((r) => r.adjusts),
      ['2026-08'],
      "October's invoice carries it",
    );
    assert.equal(await open(), null);
    // The running dyno stops: learned now, every month it ran is a candidate, and each charges the same.
    await seedStop(db.pool, 'app-a', 'worker.1', '2026-11-10T00:00:00Z');
    assert.equal(await open(), null, 'an interval learned again that charges the same is not late');
  });

  test('usage no owner covers, closed or running, and a sequence hole each keep their month open; what is queued is folded first', async () => {
    await seedUsage(db.pool, [dyno('app-b', '2026-09-10T00:00:00Z', '2026-09-11T00:00:00Z', '2026-09-11T00:00:00Z')]);
    const unowned = await open();
    assert.equal(unowned?.period, '2026-09');
    assert.match(unowned!.reason, /app app-b has usage no owner covers/);
    const queued = await db.pool.query('select count(*)::int as n from metering.usage_changes');
    assert.equal(queued.rows[0].n, 0, 'the gate folded the change first');
    await db.pool.query(`delete from metering.usage_intervals where app_id = 'app-b'`);
    await seedUsage(db.pool, [basicDyno('app-b', '2026-10-20T00:00:00Z')]);
    const running = await open();
    assert.equal(running?.period, '2026-10');
    assert.match(running!.reason, /app app-b has usage running that no owner covers/);
    await db.pool.query(`delete from metering.usage_intervals where app_id = 'app-b'`);
    assert.equal(await open(), null);
    await seedGap(db.pool, 'app-a', 'dyno-gap', '2026-10-15T00:00:00Z');
    const hole = await open();
    assert.equal(hole?.period, '2026-10');
    assert.match(hole!.reason, /app app-a has a sequence hole in dyno-gap/);
    await db.pool.query(`delete from metering.subject_gaps`);
    assert.equal(await open(), null);
  });

  test('before the horizon invoicing reads no usage: finalize refuses, no late candidate, no hold, the fold keeps the aggregates, a customer’s old month shows its invoice, its days archived, the schedule starts there', async () => {
    const september = async () =>
      (
        await db.pool.query(
          `select account_id, app_id, product, ms::text from invoicing.usage_months where month < '2026-10-01T00:00:00Z' order by 1, 2, 3, 4`,
        )
      ).rows;
    const kept = await september();
    // A late change of September: without the horizon a candidate, and folded from September.
    await seedUsage(db.pool, [dyno('app-a', '2026-09-20T00:00:00Z', '2026-09-21T00:00:00Z', DateTime.utc().toISO())]);
    const candidates = () => lateCandidates(db.pool, new Date('2026-11-01T00:00:00Z'), undefined, LATE_MARGIN_INTERVAL);
    assert.ok((await candidates()).some((c) => c.period === '2026-09'));
    await db.pool.query(`insert into metering.usage_horizon (month) values ('2026-10-01')`);
    const after = (await candidates()).map((c) => c.period);
    assert.ok(after.length > 0 && after.every((p) => p >= '2026-10'), `no month before the horizon: ${after}`);
    await foldAllUsageChanges(db.pool);
    assert.deepEqual(await september(), kept, 'its aggregates stay as they were');
    const billing = createBilling({
      pool: db.pool,
      prices,
      graceHours: 72,
      now: () => DateTime.fromISO('2026-12-05T00:00:00Z', { zone: 'utc' }),
    });
    await assert.rejects(billing.finalize('2026-09'), (err: Error) => {
      assert.ok(err instanceof FinalMonthError);
      assert.match(err.message, /2026-09 is before the usage horizon \(2026-10\)/);
      return true;
    });
    assert.deepEqual(await billing.holds('2026-09'), { period: '2026-09', held: [] });
    const view = await billing.usageView('acct-a', '2026-09');
    assert.equal(view.archived, true, 'its days are archived (vault archive drops them)');
    assert.deepEqual(view.days, []);
    assert.equal(view.draft.status, 'finalized');
    assert.deepEqual(await billing.usagePerDay('acct-a', '2026-09'), [], 'its days are archived');
    const due = await dueMonths(db.pool, 72, DateTime.fromISO('2026-12-05T00:00:00Z', { zone: 'utc' }));
    assert.deepEqual(
      due.map((p) => p.key),
      ['2026-10', '2026-11'],
    );
  });
});
