// The non-overlap invariant is the database's, not the consumer's (issue 20):
// a unique B-tree on (subject, start) and a statement-level trigger that takes
// the subjects' locks and compares neighbours (migration 009) refuse overlapping
// usage or ownership from any writer, raw SQL included, alone or concurrent.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type pg from 'pg';
import { eventually, type TestDatabase } from '@vault/testkit';
import { meteringDatabase } from './harness.ts';

const databases: TestDatabase[] = [];
async function db(): Promise<TestDatabase> {
  const d = await meteringDatabase();
  databases.push(d);
  return d;
}

const USAGE = `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
               select $1, 'dyno', 'app-1', 'web.1', 'dyno:basic', tstzrange(f, t), now()
                 from unnest($2::timestamptz[], $3::timestamptz[]) as x(f, t)`;
const usage = (c: pg.Pool | pg.PoolClient, subject: string, spans: [string, string | null][]) =>
  c.query(USAGE, [subject, spans.map((s) => s[0]), spans.map((s) => s[1])]);
const owner = (c: pg.Pool | pg.PoolClient, app: string, from: string, to: string | null) =>
  c.query(`insert into metering.app_ownership (app_id, account_id, during, learned_at) values ($1, 'acct-1', tstzrange($2, $3), now())`, [
    app,
    from,
    to,
  ]);
const code = (expected: string) => (err: unknown) => {
  assert.equal((err as { code?: string }).code, expected, (err as Error).message);
  return true;
};

describe('non-overlapping usage, kept by the database against any writer (real PostgreSQL)', () => {
  after(() => Promise.all(databases.map((d) => d.drop())));

  test('a single raw writer inserting an overlapping interval is refused with 23P01, touching intervals are not', async () => {
    const d = await db();
    await usage(d.pool, 'dyno-a', [['2026-10-01T00:00:00Z', '2026-10-05T00:00:00Z']]);
    await assert.rejects(usage(d.pool, 'dyno-a', [['2026-10-04T00:00:00Z', '2026-10-06T00:00:00Z']]), code('23P01'));
    // Before it, open-ended after it, and one that would cover it whole.
    await assert.rejects(usage(d.pool, 'dyno-a', [['2026-09-30T00:00:00Z', '2026-10-02T00:00:00Z']]), code('23P01'));
    await assert.rejects(usage(d.pool, 'dyno-a', [['2026-09-01T00:00:00Z', null]]), code('23P01'));
    // The same start is the unique key's refusal.
    await assert.rejects(usage(d.pool, 'dyno-a', [['2026-10-01T00:00:00Z', '2026-10-02T00:00:00Z']]), code('23505'));
    // [1, 5) and [5, 9) touch without overlapping; another subject may overlap freely.
    await usage(d.pool, 'dyno-a', [['2026-10-05T00:00:00Z', '2026-10-09T00:00:00Z']]);
    await usage(d.pool, 'dyno-b', [['2026-10-02T00:00:00Z', null]]);
    const { rows } = await d.pool.query(`select subject, during::text from metering.usage_intervals order by subject, lower(during)`);
    assert.equal(rows.length, 3);
  });

  test('overlaps within one statement, and an update into an overlap, are refused too', async () => {
    const d = await db();
    await assert.rejects(
      usage(d.pool, 'dyno-c', [
        ['2026-10-01T00:00:00Z', '2026-10-05T00:00:00Z'],
        ['2026-10-03T00:00:00Z', '2026-10-04T00:00:00Z'],
      ]),
      code('23P01'),
    );
    await usage(d.pool, 'dyno-c', [
      ['2026-10-01T00:00:00Z', '2026-10-05T00:00:00Z'],
      ['2026-10-06T00:00:00Z', null],
    ]);
    await assert.rejects(
      d.pool.query(`update metering.usage_intervals set during = tstzrange(lower(during), null) where subject = 'dyno-c'`),
      code('23P01'),
    );
    await owner(d.pool, 'app-9', '2026-10-01T00:00:00Z', null);
    await assert.rejects(owner(d.pool, 'app-9', '2026-10-10T00:00:00Z', null), code('23P01'));
    await d.pool.query(
      `update metering.app_ownership set during = tstzrange(lower(during), '2026-10-10T00:00:00Z') where app_id = 'app-9'`,
    );
    await owner(d.pool, 'app-9', '2026-10-10T00:00:00Z', null);
  });

  test('two raw writers inserting overlapping intervals of one subject at once: the second waits, then is refused with 23P01', async () => {
    const d = await db();
    const first = await d.pool.connect();
    const second = await d.pool.connect();
    try {
      await first.query('begin');
      await second.query('begin');
      const pid = (await second.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      await usage(first, 'dyno-r', [['2026-10-01T00:00:00Z', '2026-10-05T00:00:00Z']]);
      let settled = false;
      const refused = usage(second, 'dyno-r', [['2026-10-03T00:00:00Z', null]]).finally(() => {
        settled = true;
      });
      refused.catch(() => {});
      // Neither sees the other's uncommitted row: the second must wait for the first's subject lock.
      await eventually('the second writer to wait for the subject lock', async () => {
        const { rows } = await d.pool.query(`select wait_event_type from pg_stat_activity where pid = $1`, [pid]);
        return rows[0]?.wait_event_type === 'Lock';
      });
      assert.equal(settled, false);
      await first.query('commit');
      await assert.rejects(refused, code('23P01'));
      await second.query('rollback');
    } finally {
      first.release();
      second.release();
    }
    const { rows } = await d.pool.query(`select during::text from metering.usage_intervals where subject = 'dyno-r'`);
    assert.deepEqual(
      rows.map((r) => r.during),
      ['["2026-10-01 00:00:00+00","2026-10-05 00:00:00+00")'],
    );
  });

  test('two raw writers of one app’s ownership at once: one wins, the other is refused with 23P01', async () => {
    const d = await db();
    const clients = [await d.pool.connect(), await d.pool.connect()];
    try {
      await Promise.all(clients.map((c) => c.query('begin')));
      const results = await Promise.allSettled(
        clients.map(async (c, i) => {
          await owner(c, 'app-race', `2026-10-0${i + 1}T00:00:00Z`, null);
          await c.query('commit');
        }),
      );
      const refused = results.filter((r) => r.status === 'rejected');
      assert.equal(refused.length, 1, 'exactly one writer refused');
      assert.equal(((refused[0] as PromiseRejectedResult).reason as { code?: string }).code, '23P01');
      await Promise.all(clients.map((c) => c.query('rollback')));
    } finally {
      for (const c of clients) c.release();
    }
    const { rows } = await d.pool.query(`select count(*)::int as n from metering.app_ownership where app_id = 'app-race'`);
    assert.equal(rows[0].n, 1);
  });

  test('under REPEATABLE READ, whose snapshot could miss a concurrent writer, writing usage is refused (55000)', async () => {
    const d = await db();
    const c = await d.pool.connect();
    try {
      await c.query('begin isolation level repeatable read');
      await assert.rejects(usage(c, 'dyno-rr', [['2026-10-01T00:00:00Z', null]]), code('55000'));
      await c.query('rollback');
      await c.query('begin isolation level serializable');
      await usage(c, 'dyno-rr', [['2026-10-01T00:00:00Z', null]]);
      await c.query('commit');
    } finally {
      c.release();
    }
  });
  test('a bulk statement writing more than 2,000 subjects locks the table instead, and is refused on one overlap all the same', async () => {
    const d = await db();
    const bulk = (extra: string) =>
      d.pool.query(
        `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
         select 'bulk-' || i, 'dyno', 'app-1', 'web.1', 'dyno:basic', tstzrange('2026-10-01T00:00:00Z', null), now()
           from generate_series(1, 2500) i
         union all
         select 'bulk-1', 'dyno', 'app-1', 'web.1', 'dyno:basic', tstzrange($1::timestamptz, null), now() where $1 is not null`,
        [extra],
      );
    await assert.rejects(bulk('2026-10-05T00:00:00Z'), code('23P01'));
    await bulk(null as unknown as string);
    const { rows } = await d.pool.query(`select count(*)::int as n from metering.usage_intervals where subject like 'bulk-%'`);
    assert.equal(rows[0].n, 2500);
  });
});
