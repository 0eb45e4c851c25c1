// GET /v1/rejected pages were bounded by rows only: 1000 kept lines of 64 KiB
// (each \u0001 byte six in JSON) made an answer of ~375 MiB. And a page of one
// status walked the primary key through every rejection of the other.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { RejectedList } from '@vault/contracts';
import { REJECTED_PAGE_BYTES, rejectedPageSql } from '../src/reports/store.ts';
import { AUTH, meteringDatabases, startMetering, type Metering } from './harness.ts';

const LONG = { timeout: 120_000 };
const KIB = 1024;
const { db, dropAll } = meteringDatabases();
const running: Metering[] = [];

/** Rejections kept as `raw` (the same bytes, or `bytes` when given), in id order; returns their ids. */
async function keep(pool: Metering['db']['pool'], raws: { raw: string; bytes?: Buffer }[]): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, { raw, bytes }] of raws.entries()) {
    const { rows } = await pool.query<{ id: string }>(
      `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons)
       values ($1, coalesce($2, convert_to($1, 'UTF8')), md5(random()::text || $3), '[{"field": "", "code": "not_json", "message": "test"}]')
       returning id::text`,
      [raw, bytes ?? null, String(i)],
    );
    ids.push(rows[0]!.id);
  }
  return ids;
}

describe('GET /v1/rejected: pages bounded by bytes, each status by its own index (real PostgreSQL)', () => {
  after(async () => {
    await Promise.all(running.map((m) => m.close()));
    await dropAll();
  });

  test(
    'a page stops once its kept bytes pass the budget (at least one row), next_after pages on through every row once',
    LONG,
    async () => {
      const m = await startMetering('embedded');
      running.push(m);
      const line = '\u0001'.repeat(64 * KIB);
      const ids = await keep(m.db.pool, [
        { raw: 'x'.repeat(5 * KIB * KIB) },
        ...Array.from({ length: 100 }, () => ({ raw: line })),
        { raw: '\ufffd', bytes: Buffer.from([0xff]) },
      ]);
      const sizes: number[] = [];
      const seen: string[] = [];
      let afterId: string | null = '0';
      while (afterId !== null) {
        assert.ok(sizes.length < 10, 'the walk ends');
        const url: string = `/v1/rejected?limit=1000&after=${afterId}`;
        const res = await m.http.inject({ method: 'GET', url, headers: AUTH });
        assert.equal(res.statusCode, 200);
        // At most 64 rows of 64 KiB, escaped six-fold (24 MiB); all of them were 42 MiB.
        assert.ok(res.body.length < 30 * KIB * KIB, `page after ${afterId}: ${res.body.length} bytes`);
        const page = RejectedList.parse(res.json());
        const bytes = page.rejected.map((r) =>
          r.raw_base64 === null ? Buffer.byteLength(r.raw) : Buffer.from(r.raw_base64, 'base64').length,
        );
        const beforeLast = bytes.slice(0, -1).reduce((a, b) => a + b, 0);
        assert.ok(beforeLast < REJECTED_PAGE_BYTES, `page after ${afterId}: ${beforeLast} bytes before its last row`);
        sizes.push(page.rejected.length);
        seen.push(...page.rejected.map((r) => r.id));
        if (page.next_after !== null) assert.equal(page.next_after, page.rejected.at(-1)!.id);
        afterId = page.next_after;
      }
      assert.deepEqual(seen, ids, 'every rejection once, in order');
      assert.deepEqual(sizes, [1, 64, 37], 'the 5 MiB row alone; then 64 rows of 64 KiB (4 MiB); then the rest');
      const [odd] = (await m.http.inject({ method: 'GET', url: `/v1/rejected?after=${ids.at(-2)}`, headers: AUTH })).json().rejected;
      assert.equal(odd.raw_base64, '/w==', 'bytes that are not the text are given as base64');
    },
  );

  test('a page of one status scans its partial index, not the primary key through the other status', async () => {
    const d = await db();
    await d.pool.query(
      `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, resolved_at)
       select 'x', 'x', g::text, '[]', case when g % 1000 = 0 then null else now() end from generate_series(1, 20000) g`,
    );
    const plan = async (status: 'pending' | 'resolved') => {
      await d.pool.query('analyze metering.rejected_events');
      const { rows } = await d.pool.query(`explain (format json) ${rejectedPageSql(status)}`, ['0', 100, REJECTED_PAGE_BYTES]);
      return JSON.stringify(rows[0]['QUERY PLAN']);
    };
    assert.match(await plan('pending'), /"Index Name":"rejected_events_pending"/, 'few pending among many resolved');
    await d.pool.query('update metering.rejected_events set resolved_at = case when id % 1000 = 0 then now() end');
    assert.match(await plan('resolved'), /"Index Name":"rejected_events_resolved"/, 'few resolved among many pending');
  });
});
