// Issue 15: POST /v1/events has a limit at every size. A body over 4 MiB, or
// over 10,000 events, is a 413 naming the limit; a line over 64 KiB is rejected
// with its reason while the rest of the batch is kept; every string field of the
// event has a maximum length, named in the reason. (Real PostgreSQL, embedded bus.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_EVENT_BYTES } from '@vault/contracts';
import { eventually } from '@vault/testkit';
import { MAX_EVENTS_PER_REQUEST } from '../src/intake/read-body.ts';
import { EVENTS_BODY_LIMIT } from '../src/intake/routes.ts';
import { AUTH, startMetering, stats, type Metering } from './harness.ts';

const event = (n: number, over: Record<string, unknown> = {}, data: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: `evt-limit-${n}`,
  source: 'dyno-manager',
  type: 'dyno.started',
  time: '2026-10-01T00:00:00Z',
  subject: `dyno-limit-${n}`,
  sequence: 1,
  data: { app_id: 'app-limits', name: 'web.1', size: 'standard-1x', ...data },
  ...over,
});
const ndjson = (...events: unknown[]) => `${events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n')}\n`;

describe('POST /v1/events: limits on the body, each line and each field', () => {
  let m: Metering;
  const post = (payload: string | Buffer) =>
    m.http.inject({ method: 'POST', url: '/v1/events', headers: { ...AUTH, 'content-type': 'application/x-ndjson' }, payload });

  before(async () => (m = await startMetering('embedded')));
  after(() => m?.close());

  test('a body over 4 MiB is a 413 naming the limit, and nothing of it is taken', async () => {
    const body = Buffer.concat([Buffer.from(ndjson(event(100))), Buffer.alloc(EVENTS_BODY_LIMIT, 0x20)]);
    const res = await post(body);
    assert.equal(res.statusCode, 413);
    assert.match(res.json().error, /^body is larger than 4 MiB \(4194304 bytes\), the most one request may carry/);
    assert.equal(res.json().limit_bytes, 4 * 1024 * 1024);
    const { rows } = await m.db.pool.query(`select count(*)::int as n from bus.messages where topic = $1`, [m.topic]);
    assert.equal(rows[0].n, 0, 'nothing published');
  });

  test('a line over 64 KiB is rejected with its size and the limit; the lines around it are kept and applied', async () => {
    const huge = event(2, {}, { padding: 'x'.repeat(MAX_EVENT_BYTES) });
    const res = await post(ndjson(event(1), huge, event(3)));
    assert.equal(res.statusCode, 202);
    const report = res.json();
    assert.equal(report.accepted, 2);
    assert.equal(report.rejected.length, 1);
    assert.equal(report.rejected[0].index, 1);
    assert.match(report.rejected[0].reason, /^the event is \d+ bytes, more than the 65536 \(64 KiB\) one event may be$/);
    assert.deepEqual(
      report.rejected[0].reasons.map((r: { field: string; code: string }) => [r.field, r.code]),
      [['', 'too_long']],
    );
    await eventually('the two kept lines applied', async () => (await stats(m)).events_applied === 2);
    const s = await stats(m);
    assert.equal(s.events_rejected, 0, 'the oversized line was refused at the door, never published');
  });

  test('every string field has a maximum length, named in the reason; the valid events of the batch are kept', async () => {
    const cases: [unknown, string][] = [
      [event(10, { id: 'i'.repeat(129) }), 'id: must be at most 128 characters'],
      [event(11, { source: 's'.repeat(257) }), 'source: must be at most 256 characters'],
      [event(12, { subject: 'd'.repeat(129) }), 'subject: must be at most 128 characters'],
      [event(13, { time: `2026-10-01T00:00:00.${'0'.repeat(40)}Z` }), 'time: must be at most 40 characters'],
      [event(14, {}, { name: 'n'.repeat(129) }), 'data.name: must be at most 128 characters'],
      [event(15, {}, { size: 's'.repeat(129) }), 'data.size: must be at most 128 characters'],
      [event(16, {}, { app_id: 'a'.repeat(129) }), 'data.app_id: must be at most 128 characters'],
    ];
    const res = await post(ndjson(event(20), ...cases.map(([e]) => e), event(21)));
    assert.equal(res.statusCode, 202);
    const report = res.json();
    assert.equal(report.accepted, 2);
    assert.deepEqual(
      report.rejected.map((r: { index: number; reason: string }) => [r.index, r.reason]),
      cases.map(([, reason], i) => [i + 1, reason]),
    );
    await eventually('applied and rejected', async () => {
      const s = await stats(m);
      return s.events_applied === 4 && s.events_rejected === cases.length;
    });
  });

  test('a body of more than 10,000 events (array elements or NDJSON lines) is a 413 naming the limit, before any is judged or published; 10,000 are taken', async () => {
    const published = async () =>
      (await m.db.pool.query(`select count(*)::int as n from bus.messages where topic = $1`, [m.topic])).rows[0].n as number;
    const before = await published();
    // 4 MiB of `1,`: 2.1 million elements, once judged one by one for 15 s with the event loop held.
    const elements = Array.from({ length: EVENTS_BODY_LIMIT / 2 - 1 }, () => '1');
    const bodies: [string, string][] = [
      ['application/cloudevents-batch+json', `[${elements.slice(0, MAX_EVENTS_PER_REQUEST + 1).join(',')}]`],
      ['application/x-ndjson', ndjson(...Array.from({ length: MAX_EVENTS_PER_REQUEST + 1 }, (_, i) => event(1000 + i)))],
      ['application/json', `[${elements.join(',')}]`],
    ];
    for (const [type, payload] of bodies) {
      const started = performance.now();
      const res = await m.http.inject({ method: 'POST', url: '/v1/events', headers: { ...AUTH, 'content-type': type }, payload });
      assert.equal(res.statusCode, 413, `${type}: ${res.body.slice(0, 200)}`);
      assert.match(
        res.json().error,
        /^body holds more than 10,000 events \(array elements or NDJSON lines\), the most one request may carry/,
      );
      assert.equal(res.json().limit_events, MAX_EVENTS_PER_REQUEST);
      assert.ok(performance.now() - started < 3_000, `${type}: refused in ${(performance.now() - started).toFixed(0)} ms`);
    }
    assert.equal(await published(), before, 'nothing published');
    // Exactly the limit is taken (copies of one event: the other tests' counts stay as they are).
    const atLimit = await post(ndjson(...Array.from({ length: MAX_EVENTS_PER_REQUEST }, () => event(999))));
    assert.equal(atLimit.statusCode, 202);
    assert.deepEqual(atLimit.json(), { accepted: 1, duplicates: MAX_EVENTS_PER_REQUEST - 1, rejected: [] });
    await eventually('the copies counted', async () => (await stats(m)).events_duplicate === MAX_EVENTS_PER_REQUEST - 1);
  });
});
