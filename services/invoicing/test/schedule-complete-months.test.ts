// Review R2, finding 1: each schedule tick finalized every month kept, and a
// month with nothing to do still read every earlier invoice. A month complete
// as its last run saw it, with nothing learned since, is skipped: the invoices
// a tick reads do not grow with the months kept; a month something was learned
// of since is still finalized, its late usage carried.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { startSchedule } from '../src/billing/schedule.ts';
import { chargedFor, pricedNow } from './late-runs.ts';
import { basicDyno, billingDatabase, seedOwners, seedUsage } from './seed.ts';

const ACCOUNTS = 2_000;
const CLOCK = '2026-11-20T00:00:00Z';
const now = () => DateTime.fromISO(CLOCK, { zone: 'utc' });
const prices = loadPriceBook();

/** `ACCOUNTS` accounts each with a dyno running since `from`, all learned long ago. */
async function seedAccounts(pool: pg.Pool, from: string): Promise<void> {
  await pool.query(
    `insert into metering.app_ownership (app_id, app_subject_id, account_id, during, learned_at)
     select 'm-app-' || g, 5000000 + g, 'm-acct-' || lpad(g::text, 5, '0'), tstzrange($2::timestamptz, null, '[)'), '2025-01-01T00:00:00Z'
       from generate_series(1, $1::int) g`,
    [ACCOUNTS, from],
  );
  await pool.query(
    `insert into metering.usage_intervals (subject, subject_id, kind, app_id, key, product, during, learned_at)
     select 'm-sub-' || g, 5000000 + g, 'dyno', 'm-app-' || g, 'web.1', 'dyno:basic', tstzrange($2::timestamptz, null, '[)'), '2025-01-01T00:00:00Z'
       from generate_series(1, $1::int) g`,
    [ACCOUNTS, from],
  );
}

/** Rows of invoicing.invoices read so far, as the statistics collector counts them. */
async function invoiceReads(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `select pg_stat_clear_snapshot(), (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::text as n
       from pg_stat_user_tables where schemaname = 'invoicing' and relname = 'invoices'`,
  );
  return Number(rows[0]!.n);
}

/** Runs one schedule tick (as the service does) and returns the rows of invoices read meanwhile. */
async function oneTick(pool: pg.Pool): Promise<number> {
  // Other connections' counts reach the collector once they are idle a second.
  await new Promise((r) => setTimeout(r, 1_500));
  const was = await invoiceReads(pool);
  const log = memoryLogger();
  const billing = createBilling({ pool, prices, graceHours: 72, now, log });
  const schedule = startSchedule({ pool, billing, graceHours: 72, everyMs: 3_600_000, log, now });
  try {
    await eventually('a tick', async () => log.lines.some((l) => l.includes('invoicing.schedule_tick')), 300_000);
  } finally {
    await schedule.stop();
  }
  assert.deepEqual(
    log.lines.filter((l) => l.includes('schedule_failed')),
    [],
  );
  await new Promise((r) => setTimeout(r, 1_500));
  return (await invoiceReads(pool)) - was;
}

/** A database with `months` months finalized (up to 2026-10) for every account. */
async function finalizedMonths(months: number): Promise<TestDatabase> {
  const db = await billingDatabase();
  const first = DateTime.fromISO('2026-10-01T00:00:00Z', { zone: 'utc' }).minus({ months: months - 1 });
  await seedAccounts(db.pool, first.toISO()!);
  // An account with a dyno only in the first month: no invoice of the later ones.
  await seedOwners(db.pool, [{ app: 'late-app', account: 'late-1', from: first.toISO()!, learnedAt: '2025-01-01T00:00:00Z' }]);
  await seedUsage(db.pool, [basicDyno('late-app', first.toISO()!, first.plus({ days: 9 }).toISO()!, '2025-01-01T00:00:00Z')]);
  const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now });
  for (let m = first; m < DateTime.fromISO('2026-11-01T00:00:00Z', { zone: 'utc' }); m = m.plus({ months: 1 })) {
    await billing.finalize(m.toFormat('yyyy-MM'));
  }
  return db;
}

describe('the schedule skips months complete with nothing learned since', () => {
  let two: TestDatabase;
  let eight: TestDatabase;
  before(async () => {
    two = await finalizedMonths(2);
    eight = await finalizedMonths(8);
  });
  after(async () => {
    await two?.drop();
    await eight?.drop();
  });

  test("a tick's reads of the invoices do not grow with the months kept", async () => {
    const readTwo = await oneTick(two.pool);
    const readEight = await oneTick(eight.pool);
    // Before: every month finalized again, each reading every earlier invoice (thousands of rows a month).
    assert.ok(readEight <= readTwo + 100, `2 months: ${readTwo} invoice rows read, 8 months: ${readEight}`);
    assert.ok(readEight < ACCOUNTS, `8 months: ${readEight} invoice rows read a tick`);
  });

  test('a month something was learned of since is still finalized, its late usage carried', async () => {
    const pool = eight.pool;
    const first = '2026-03';
    // Metering learns late that late-1's dyno ran ten days more, and of a new account's usage in 2026-09.
    await pool.query(
      `update metering.usage_intervals set during = tstzrange(lower(during), upper(during) + interval '10 days', '[)'), learned_at = now()
        where app_id = 'late-app'`,
    );
    await seedOwners(pool, [{ app: 'new-app', account: 'new-1', from: '2026-09-01T00:00:00Z' }]);
    await seedUsage(pool, [basicDyno('new-app', '2026-09-01T00:00:00Z', '2026-09-05T00:00:00Z')]);
    await oneTick(pool);
    const { rows } = await pool.query<{ account_id: string; period: string }>(
      `select account_id, period from invoicing.invoices where account_id in ('late-1', 'new-1') order by 1, 2`,
    );
    assert.deepEqual(
      rows.map((r) => `${r.account_id} ${r.period}`),
      ['late-1 2026-03', 'late-1 2026-04', 'new-1 2026-09'],
    );
    assert.equal(await chargedFor(pool, 'late-1', first), await pricedNow(pool, prices, 'late-1', first));
    assert.notEqual(await chargedFor(pool, 'late-1', first), '0.00');
  });

  test('a credit lot that expired is still written off though every month is complete, so its credits.csv is not refused for ever', async () => {
    const pool = two.pool;
    // Granted a day before the clock, expiring an hour before it: only a finalize run writes the expiry off.
    const granting = createBilling({ pool, prices, graceHours: 72, now: () => now().minus({ days: 1 }) });
    await granting.grantCredit('m-acct-00001', {
      id: 'g-expiring',
      amount: '5.00',
      reason: 'goodwill',
      expires_at: now().minus({ hours: 1 }).toISO()!,
    });
    await oneTick(pool);
    const { rows } = await pool.query<{ remaining: string }>(
      `select remaining::text from invoicing.credit_lots where account_id = 'm-acct-00001' and expires_at < $1`,
      [now().toJSDate()],
    );
    assert.deepEqual(
      rows.map((r) => r.remaining),
      ['0.00'],
      'the expired lot is written off',
    );
  });
});
