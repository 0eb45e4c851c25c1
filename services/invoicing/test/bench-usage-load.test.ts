// bench:usage's open-loop arithmetic: the schedule, the percentiles, the
// summary and the driver (on a fake clock: nothing here depends on timing).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile, runOpenLoop, schedule, seededRandom, summarize, type Outcome } from '../bench/usage-load.ts';

test('the schedule offers rate × seconds requests, evenly spaced from 0', () => {
  const due = schedule(200, 20);
  assert.equal(due.length, 4_000);
  assert.equal(due[0], 0);
  assert.equal(due[1], 5);
  assert.equal(due.at(-1), 19_995);
  assert.equal(schedule(3, 1).length, 3);
  assert.throws(() => schedule(0, 20), /rate and seconds must be positive/);
});

test('percentiles of known samples are their nearest ranks', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(hundred, 50), 50);
  assert.equal(percentile(hundred, 99), 99);
  assert.equal(percentile(hundred, 100), 100);
  assert.equal(percentile(hundred, 0), 1);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('the summary counts errors apart, keeps their latency in the percentiles and rates only what completed', () => {
  const outcomes: Outcome[] = [
    ...Array.from({ length: 98 }, (_, i): Outcome => ({ ok: true, ms: i + 1 })),
    { ok: false, ms: 5_000, error: 'timeout after 5000 ms' },
    { ok: false, ms: 5_000, error: 'timeout after 5000 ms' },
  ];
  const s = summarize(outcomes, 2_000);
  assert.equal(s.offered, 100);
  assert.equal(s.completed, 98);
  assert.equal(s.errors, 2);
  assert.equal(s.rps, 49);
  assert.equal(s.p50, 50);
  assert.equal(s.p99, 5_000);
  assert.deepEqual([...s.errorKinds], [['timeout after 5000 ms', 2]]);
});

test('the open loop, always late, sends every scheduled request once and in order, measuring from each due time', async () => {
  // A fake clock that jumps 30 ms on each reading: the loop is always late, so it must send the backlog, not skip it.
  let clock = 0;
  const now = () => (clock += 30);
  const sent: number[] = [];
  const run = await runOpenLoop({
    rate: 100,
    seconds: 1,
    now,
    send: async (i) => {
      sent.push(i);
      if (i === 3) throw new Error('usage API answered 500');
    },
  });
  assert.deepEqual(
    sent,
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.equal(run.outcomes.length, 100);
  assert.equal(run.outcomes.filter((o) => !o.ok).length, 1);
  assert.deepEqual(run.outcomes[3], { ok: false, ms: run.outcomes[3]!.ms, error: 'usage API answered 500' });
  // Each latency counts from the request's due time, which the late loop has always passed when it sends.
  assert.ok(run.outcomes.every((o) => o.ms >= 30));
  assert.ok(run.elapsedMs >= 990, 'the run lasts at least until its last due time');
});

test('the seeded PRNG gives the same sequence for the same seed, within [0, 1)', () => {
  const a = seededRandom(19);
  const b = seededRandom(19);
  const xs = Array.from({ length: 1_000 }, () => a());
  assert.deepEqual(
    xs,
    Array.from({ length: 1_000 }, () => b()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, seededRandom(20)));
});
