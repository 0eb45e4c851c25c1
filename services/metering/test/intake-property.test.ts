// Random and mutated events thrown at metering's real intake (fast-check):
// coherent dyno, add-on and app histories mixed with exact duplicates, ids
// re-used with other content, contract breaches and garbage, shuffled, cut
// into chunks and sent through POST /v1/events (JSON array or NDJSON) or
// straight onto the bus as a platform publisher does — the real consumer and
// PostgreSQL behind both. After every run: each valid event applied exactly
// once, with the content of the first copy sent; every bad message kept
// whole with a reason naming its field; duplicates counted; and the usage of
// every entity exactly what its valid events say, bad neighbours or not.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { eventually } from '@vault/testkit';
import type { Event } from '../../../packages/contracts/test/arbitraries.ts';
import { plan } from './arbitraries.ts';
import { AUTH, startMetering, stats, type Metering } from './harness.ts';
import { HOUR, listRejected, run, type Report, type Stats } from './intake-run.ts';

for (const [kind, numRuns] of [
  ['embedded', 30],
  ['kafka', 8],
] as const) {
  describe(`metering intake under random and mutated events (${kind} bus, real PostgreSQL)`, () => {
    let m: Metering;
    before(async () => (m = await startMetering(kind)));
    after(() => m?.close());

    test('valid events applied once each with their first content, duplicates counted, re-used ids and bad messages kept whole with a reason naming the field, usage exact', {
      timeout: 240_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(plan(Date.now() + HOUR), (p) => run(m, p)),
        // No shrinking: each failing replay would wait out the consumer. The seed and
        // the counterexample are printed; `seed` and `path` replay it.
        { numRuns, endOnFailure: true },
      );
    });
  });
}

describe('metering intake: bad messages the properties found (embedded bus, real PostgreSQL)', () => {
  let m: Metering;
  before(async () => (m = await startMetering('embedded')));
  after(() => m?.close());

  const started = (id: string, subject: string): Event => ({
    specversion: '1.0',
    id,
    source: 'dyno-manager',
    type: 'dyno.started',
    time: '2026-10-01T00:00:00Z',
    subject,
    sequence: 1,
    data: { app_id: 'app-1', name: 'web.1', size: 'standard-1x' },
  });
  /** Waits for `applied` and `rejected` more than `base`, and no lag. */
  const counted = (base: Stats, applied: number, rejected: number) =>
    eventually(`+${applied} applied, +${rejected} rejected, no lag`, async () => {
      const s = (await stats(m)) as Stats;
      return (
        s.events_applied === base.events_applied + applied && s.events_rejected === base.events_rejected + rejected && s.consumer_lag === 0
      );
    });

  test('lines whose subject holds U+0000 are refused naming the field and kept; the valid line beside them is applied', async () => {
    const base = (await stats(m)) as Stats;
    const body = [
      started('nul-ok', 'dyno-beside-nul'),
      started('nul-1', 'dyno\u0000a'),
      { ...started('nul-2', 'dyno\u0000b'), sequence: 0 },
    ];
    const res = await m.http.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
    assert.equal(res.statusCode, 202, res.body);
    const report = res.json() as Report;
    assert.equal(report.accepted, 1);
    assert.deepEqual(
      report.rejected.map((r) => [r.index, r.reasons[0]?.field]),
      [
        [1, 'subject'],
        [2, 'sequence'],
      ],
    );
    await counted(base, 1, 2);
  });

  test('a message that is not JSON and begins with an emoji is kept as not_json, and the next message of its partition is applied', async () => {
    const base = (await stats(m)) as Stats;
    await m.bus.publish(m.topic, [
      { key: 'dyno-after-emoji', value: Buffer.from('\u{1F600} is not JSON') },
      { key: 'dyno-after-emoji', value: Buffer.from(JSON.stringify(started('after-emoji', 'dyno-after-emoji'))) },
    ]);
    await counted(base, 1, 1);
    const kept = (await listRejected(m, 0)).find((r) => r.raw === '\u{1F600} is not JSON');
    assert.deepEqual(
      kept?.reasons.map((r) => r.field),
      [''],
      'kept whole, on the whole message',
    );
  });
});
