// Over the real intake and store: an event whose `time` has a lower-case `t` and `z`
// (RFC 3339 §5.6's NOTE) is applied, stored as its instant, and the same event sent
// again `…T…Z` is a duplicate, not an id reused. And how the answer's counts and
// /v1/stats relate when rejected bytes are sent again (metering.md, "Counting").
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { AUTH, settled, startMetering, stats, type Metering } from './harness.ts';

const LONG = { timeout: 120_000 };
const running: Metering[] = [];

const started = (id: string, subject: string, time: string) =>
  JSON.stringify({
    specversion: '1.0',
    id,
    source: 'dyno-manager',
    type: 'dyno.started',
    time,
    subject,
    sequence: 1,
    data: { app_id: 'app-case', name: 'web.1', size: 'standard-1x' },
  });

async function post(m: Metering, lines: string[]) {
  const res = await m.http.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: `${lines.join('\n')}\n`,
  });
  assert.equal(res.statusCode, 202, res.body);
  return res.json() as { accepted: number; duplicates: number; rejected: unknown[] };
}

describe('metering intake: `time` in lower case, and rejected bytes sent again (real PostgreSQL)', () => {
  after(() => Promise.all(running.map((m) => m.close())));

  test(
    '`…t…z` is applied and stored as its instant; the same event sent `…T…Z` or `+01:00` is a duplicate, never reused',
    LONG,
    async () => {
      const m = await startMetering('embedded');
      running.push(m);
      assert.deepEqual(await post(m, [started('e-lower', 'd-lower', '2026-10-01t00:00:00z')]), {
        accepted: 1,
        duplicates: 0,
        rejected: [],
      });
      assert.deepEqual(
        await post(m, [
          started('e-lower', 'd-lower', '2026-10-01T00:00:00Z'),
          started('e-lower', 'd-lower', '2026-10-01t01:00:00.000+01:00'),
        ]),
        { accepted: 0, duplicates: 2, rejected: [] },
      );
      // And the other way round: stored `…T…Z`, re-sent `…t…z`.
      assert.equal((await post(m, [started('e-upper', 'd-upper', '2026-10-01T00:00:00.5Z')])).accepted, 1);
      assert.equal((await post(m, [started('e-upper', 'd-upper', '2026-10-01t00:00:00.500z')])).duplicates, 1);
      await settled(m, 2, 3, 0);
      const stored = await m.db.pool.query<{ id: string; time: Date }>(`select id, time from metering.events order by id`);
      assert.deepEqual(
        stored.rows.map((r) => [r.id, r.time.toISOString()]),
        [
          ['e-lower', '2026-10-01T00:00:00.000Z'],
          ['e-upper', '2026-10-01T00:00:00.500Z'],
        ],
      );
    },
  );

  test(
    'rejected bytes sent again: each answer counts them rejected; /v1/stats counts the first events_rejected, the copy events_duplicate',
    LONG,
    async () => {
      const m = await startMetering('embedded');
      running.push(m);
      const bad = [started('e-bad', 'd-bad', '2026-10-01T00:00:60Z'), '{"not":"an event"}'];
      const first = await post(m, bad);
      assert.deepEqual([first.accepted, first.duplicates, first.rejected.length], [0, 0, 2]);
      await settled(m, 0, 0, 2);
      const again = await post(m, bad);
      assert.deepEqual([again.accepted, again.duplicates, again.rejected.length], [0, 0, 2], 'the answer judges the bytes again');
      await settled(m, 0, 2, 2);
      const s = await stats(m);
      assert.equal(s.events_rejected, 2, 'one kept rejection per distinct bytes');
    },
  );

  test(
    'the same bad line twice in one request: the answer rejects both; /v1/stats keeps one rejection and counts the other a duplicate',
    LONG,
    async () => {
      const m = await startMetering('embedded');
      running.push(m);
      const bad = started('e-twice', 'd-twice', '2026-10-01T00:00:00');
      const answer = await post(m, [bad, bad]);
      assert.deepEqual([answer.accepted, answer.duplicates, answer.rejected.length], [0, 0, 2]);
      await settled(m, 0, 1, 1);
    },
  );
});
