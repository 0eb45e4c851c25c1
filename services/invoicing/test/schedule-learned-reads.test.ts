// Review R2, finding 3: each finalize schedule tick asked which metering rows were
// learned since a run's snapshot with no index on learned_at, so it read every usage
// interval and ownership kept, to find none. Metering's migration 026 gives learned_at
// a BRIN index (no B-tree on the consumer's hot path), which the planner uses through
// the published views: the rows a tick reads there do not grow with the history kept.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type pg from 'pg';
import type { TestDatabase } from '@vault/testkit';
import { completeMonths } from '../src/billing/complete-months.ts';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { basicDyno, billingDatabase, seedOwners, seedUsage } from './seed.ts';

const now = () => DateTime.fromISO('2026-11-20T00:00:00Z', { zone: 'utc' });
const prices = loadPriceBook();

/** `n` more intervals and ownerships from id `from` on, learned a minute apart in 2024–25 (appended in the order learned, as the consumer writes). */
async function history(pool: pg.Pool, from: number, n: number): Promise<void> {
  await pool.query(
    `insert into metering.usage_intervals (subject, subject_id, kind, app_id, key, product, during, learned_at)
     select 'h-sub-' || g, 9000000 + g, 'dyno', 'h-app-' || g, 'web.1', 'dyno:basic',
            tstzrange(timestamptz '2024-01-01Z' + g * interval '1 minute', timestamptz '2024-01-01Z' + g * interval '1 minute' + interval '10 minutes', '[)'),
            timestamptz '2024-06-01Z' + g * interval '1 minute'
       from generate_series($1::int, $1::int + $2::int - 1) g`,
    [from, n],
  );
  await pool.query(
    `insert into metering.app_ownership (app_id, app_subject_id, account_id, during, learned_at)
     select 'h-app-' || g, 9000000 + g, 'h-acct-' || g, tstzrange(timestamptz '2024-01-01Z' + g * interval '1 minute', timestamptz '2024-01-02Z' + g * interval '1 minute', '[)'),
            timestamptz '2024-06-01Z' + g * interval '1 minute'
       from generate_series($1::int, $1::int + $2::int - 1) g`,
    [from, n],
  );
  // What autosummarize does behind the consumer, done now: filled page ranges summed up.
  for (const index of ['usage_intervals_learned_at', 'app_ownership_learned_at'])
    await pool.query('select brin_summarize_new_values($1::regclass)', [`metering.${index}`]);
  await pool.query('analyze metering.usage_intervals');
  await pool.query('analyze metering.app_ownership');
}

/**
 * Rows of usage_intervals and app_ownership read (sequentially or through an index) by one
 * completeMonths: the session's counts after it less before it, in one transaction. The counts
 * alone also held what the session had read earlier and not yet reported (a pooled session that
 * ran the history's summarizing and ANALYZE: a CI run saw 230,078 rows that were theirs).
 */
async function rowsRead(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  const counted = async () => {
    const { rows } = await client.query<{ n: string }>(
      `select coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::text as n
         from pg_stat_xact_user_tables where schemaname = 'metering' and relname in ('usage_intervals', 'app_ownership')`,
    );
    return Number(rows[0]!.n);
  };
  try {
    await client.query('begin');
    const before = await counted();
    const { months } = await completeMonths(client, ['2026-10']);
    assert.deepEqual([...months], ['2026-10'], 'the month is complete, nothing learned since its run');
    return (await counted()) - before;
  } finally {
    await client.query('rollback');
    client.release();
  }
}

describe("a schedule tick's read of what metering learned since a run (real PostgreSQL)", () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await seedOwners(db.pool, [{ app: 'a1', account: 'acct-1', from: '2026-10-01T00:00:00Z', learnedAt: '2025-10-01T00:00:00Z' }]);
    await seedUsage(db.pool, [basicDyno('a1', '2026-10-01T00:00:00Z', '2026-10-20T00:00:00Z', '2025-10-01T00:00:00Z')]);
    await history(db.pool, 1, 40_000);
    await createBilling({ pool: db.pool, prices, graceHours: 72, now }).finalize('2026-10');
  });
  after(async () => db?.drop());

  test('reads no more rows with 4 times the history (160,000 intervals and ownerships against 40,000), and far fewer than it keeps', {
    timeout: 300_000,
  }, async () => {
    const small = await rowsRead(db.pool);
    await history(db.pool, 40_001, 120_000);
    const large = await rowsRead(db.pool);
    assert.ok(large <= small + 1_000, `40,000 kept: ${small} rows read; 160,000 kept: ${large}`);
    assert.ok(large < 5_000, `160,000 kept: ${large} rows read`);
  });
});
