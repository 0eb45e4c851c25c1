// GET /health's bus half, judged from a consumer's reach (pure: a reach given by hand, a clock by hand).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BusReach } from '@vault/bus';
import { memoryLogger } from '@vault/runtime';
import { ReachTracker } from '../../../packages/bus/src/consumer-reach.ts';
import { busProblem, watchBus } from '../src/bus-health.ts';

const T0 = Date.parse('2026-12-07T12:00:00.000Z');
const THRESHOLD = 30_000;

describe('the bus half of metering’s GET /health (pure)', () => {
  test('a bus that answered within the threshold is no problem, an idle topic included', () => {
    assert.equal(busProblem({ lastReached: T0, busy: false }, 'kafka', T0 + THRESHOLD, THRESHOLD), undefined);
  });

  test('no broker answering past the threshold names the kafka bus and since when, never the error', () => {
    const reach: BusReach = { lastReached: T0, busy: false, lastError: 'Connection error: connect ECONNREFUSED 10.0.0.5:9092' };
    const loss = busProblem(reach, 'kafka', T0 + THRESHOLD + 1, THRESHOLD);
    assert.equal(loss?.reason, 'kafka bus unreachable: no broker has answered the consumer since 2026-12-07T12:00:00.000Z');
    assert.match(loss!.detail, /ECONNREFUSED/);
    assert.doesNotMatch(loss!.reason, /10\.0\.0\.5/);
  });

  test('the embedded bus is named by its reads', () => {
    const loss = busProblem({ lastReached: T0, busy: false }, 'embedded', T0 + THRESHOLD + 1, THRESHOLD);
    assert.equal(loss?.reason, 'embedded bus unreachable: no read of the log has succeeded since 2026-12-07T12:00:00.000Z');
  });

  test('a consumer in its handler (a long batch) is not a silent bus', () => {
    assert.equal(busProblem({ lastReached: T0, busy: true }, 'kafka', T0 + 10 * THRESHOLD, THRESHOLD), undefined);
  });

  test('a member out of its group past the threshold, brokers answering, is named rejoining; a rebalance shorter than it is not', () => {
    const out = { lastReached: T0 + THRESHOLD, busy: false, outOfGroupSince: T0 };
    assert.equal(busProblem(out, 'kafka', T0 + THRESHOLD, THRESHOLD), undefined);
    assert.equal(
      busProblem(out, 'kafka', T0 + THRESHOLD + 1, THRESHOLD)?.reason,
      'kafka bus: the consumer has been rejoining its group since 2026-12-07T12:00:00.000Z',
    );
  });

  test('a rebalance seen during a long batch dates from the batch’s end: healthy 1 s after it, rejoining named only 31 s after it without a join, brokers answering', async () => {
    let now = T0;
    const reach = new ReachTracker(() => now);
    reach.leftGroup();
    await reach.during(async () => {
      now = T0 + 10 * 60_000;
    });
    const end = T0 + 10 * 60_000;
    assert.equal(reach.snapshot().outOfGroupSince, end, 'moved forward to when the handler left');
    assert.equal(busProblem(reach.snapshot(), 'kafka', end + 1_000, THRESHOLD), undefined);
    now = end + 30_000;
    reach.answered(); // brokers answer (metadata, the join's requests): only the join is missing
    assert.equal(
      busProblem(reach.snapshot(), 'kafka', end + 31_000, THRESHOLD)?.reason,
      `kafka bus: the consumer has been rejoining its group since ${new Date(end).toISOString()}`,
    );
  });

  test('a member in its group is not moved out of it by a batch ending, and a handler still running keeps the time out of the group', async () => {
    let now = T0;
    const reach = new ReachTracker(() => now);
    await reach.during(async () => {
      now = T0 + 60_000;
    });
    assert.equal(reach.snapshot().outOfGroupSince, undefined);
    let release!: () => void;
    const long = reach.during(() => new Promise<void>((r) => (release = r)));
    reach.leftGroup();
    now = T0 + 120_000;
    await reach.during(async () => {});
    assert.equal(reach.snapshot().outOfGroupSince, T0 + 60_000, 'another handler still runs: kafkajs cannot rejoin yet, busy says so');
    assert.equal(reach.snapshot().busy, true);
    now = T0 + 180_000;
    release();
    await long;
    assert.equal(reach.snapshot().outOfGroupSince, T0 + 180_000);
  });

  test('each transition is logged once: a warning on loss, info on recovery, whatever the probes in between', async () => {
    let now = T0;
    let reach: BusReach = { lastReached: T0, busy: false };
    const log = memoryLogger();
    const health = watchBus({ consumer: { reach: () => reach }, kind: 'kafka', thresholdMs: THRESHOLD, log, now: () => now });
    try {
      assert.equal(health.check(), undefined);
      now = T0 + THRESHOLD + 1;
      for (let i = 0; i < 3; i++) assert.match(health.check()?.reason ?? '', /^kafka bus unreachable/);
      reach = { ...reach, lastError: 'another error later' };
      assert.doesNotMatch(health.check()!.detail, /another error later/, 'the loss keeps the detail it was first seen with');
      reach = { lastReached: now, busy: false };
      for (let i = 0; i < 3; i++) assert.equal(health.check(), undefined);
    } finally {
      await health.stop();
    }
    const lost = log.lines.filter((l) => l.includes('event=bus.unreachable'));
    const back = log.lines.filter((l) => l.includes('event=bus.reachable'));
    assert.equal(lost.length, 1, log.lines.join('\n'));
    assert.match(lost[0]!, /^at=warn /);
    assert.match(lost[0]!, /bus=kafka/);
    assert.equal(back.length, 1, log.lines.join('\n'));
    assert.match(back[0]!, /^at=info /);
    assert.match(back[0]!, /down_for=30s/);
  });
});
