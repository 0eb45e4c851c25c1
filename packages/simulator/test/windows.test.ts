// Runs on other days are the same platform. The defect: the platform was named
// by the seed and the window's start, so `vault simulate` a day later (or the
// demo's window once a month rolled over) made new apps and dynos for the same
// accounts, and the first run's dynos, never stopped, ran for ever in metering.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import type { BillingEvent } from '@vault/contracts';
import { demoWindow, recentWindow, simulatePlatform, type Simulated, type SimulationWindow } from '../src/index.ts';
import { bySubject, checkInvariants } from './invariants.ts';

const key = (e: BillingEvent) => `${e.source}\u0000${e.id}`;
const ms = (e: BillingEvent) => Date.parse(e.time);
const published = (sim: Simulated) => [...sim.events, ...sim.late];

/** What metering holds after both runs are published, in order: each (source, id) once, and every copy of it the same event. */
function heldAfter(runs: Simulated[]): BillingEvent[] {
  const held = new Map<string, BillingEvent>();
  for (const run of runs) {
    for (const e of published(run)) {
      const before = held.get(key(e));
      if (before) assert.equal(JSON.stringify(e), JSON.stringify(before), `${e.id} is the same event in both runs`);
      else held.set(key(e), e);
    }
  }
  return [...held.values()];
}

/** The events of [fromMs, toMs), each once, in a comparable order. */
const between = (sim: Simulated, fromMs: number, toMs: number): string[] =>
  [
    ...new Set(
      published(sim)
        .filter((e) => ms(e) >= fromMs && ms(e) < toMs)
        .map((e) => JSON.stringify(e)),
    ),
  ].sort();

/** Two runs of one seed and size on windows that overlap or meet, `b` starting within or at the end of `a`. */
function checkTogether(a: Simulated, wa: SimulationWindow, b: Simulated, wb: SimulationWindow): void {
  assert.deepEqual(
    b.apps.map((x) => x.id),
    a.apps.map((x) => x.id),
    'the same apps',
  );
  assert.deepEqual(b.accounts, a.accounts, 'of the same accounts');
  // Where the windows overlap, both hold exactly the same events.
  const [overlapFrom, overlapTo] = [wb.from.toMillis(), Math.min(wa.to.toMillis(), wb.to.toMillis())];
  assert.deepEqual(between(b, overlapFrom, overlapTo), between(a, overlapFrom, overlapTo), 'every event of the overlap is identical');

  const held = heldAfter([a, b]);
  for (const [subject, list] of bySubject(held)) {
    const events = list.sort((x, y) => x.sequence - y.sequence);
    // Metering sees every subject numbered 1, 2, 3…: no stop without its start, no hole.
    assert.deepEqual(
      events.map((e) => e.sequence),
      events.map((_, i) => i + 1),
      `${subject} has no gap after both runs`,
    );
    if (events[0]!.type === 'dyno.started') {
      assert.ok(
        events.length <= 2 && events.slice(1).every((e) => e.type === 'dyno.stopped'),
        `${subject} is started once, then at most stopped: ${events.map((e) => e.type).join(', ')}`,
      );
    }
  }
  // What still runs after both runs is what runs at the later run's end: nothing of the first run is left running for ever.
  const running = (events: readonly BillingEvent[]) =>
    [...bySubject(events)]
      .filter(([, list]) => list.length === 1 && list[0]!.type === 'dyno.started')
      .map(([subject]) => subject)
      .sort();
  const last = wb.to > wa.to ? b : a;
  assert.deepEqual(running(held), running(heldAfter([last])), 'the dynos left running are those running at the end');
  checkInvariants(a, wa.from, wa.to);
  checkInvariants(b, wb.from, wb.to);
}

const at = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });

describe('simulatePlatform on other days: the same platform', () => {
  test('`vault simulate --weeks 2` a day apart (seed 1): the same apps, every event of the overlap identical, no dyno started twice or left running', () => {
    const wa = recentWindow(at('2026-11-23T12:34:56Z'), 2);
    const wb = recentWindow(at('2026-11-24T12:34:56Z'), 2);
    const a = simulatePlatform({ seed: 1, from: wa.from, to: wa.to });
    const b = simulatePlatform({ seed: 1, from: wb.from, to: wb.to });
    checkTogether(a, wa, b, wb);
    // Published after the first, the second run is duplicates and only the day's new events.
    const first = new Set(published(a).map(key));
    const fresh = published(b).filter((e) => !first.has(key(e)));
    assert.ok(
      fresh.every((e) => ms(e) >= wa.to.toMillis()),
      'the second run adds only events after the first run’s end',
    );
    assert.ok(fresh.length > 0 && fresh.length < published(b).length / 5, `${fresh.length} new of ${published(b).length}`);
  });

  test("the demo's window after a month rolls over (October on, then November on): the same platform, the first month's dynos stopped", () => {
    const wa = demoWindow(at('2026-11-23T12:34:56Z'), 72);
    const wb = demoWindow(at('2026-12-05T09:00:00Z'), 72);
    assert.deepEqual([wa.finalizable, wb.finalizable], ['2026-10', '2026-11']);
    const a = simulatePlatform({ seed: 1, from: wa.from, to: wa.to });
    const b = simulatePlatform({ seed: 1, from: wb.from, to: wb.to });
    checkTogether(a, wa, b, wb);
    // The demo account's apps are the same ones; its bill grows by the new days only.
    const demoApps = (s: Simulated) => s.apps.filter((x) => x.owner === s.demoAccount).map((x) => x.id);
    assert.ok(demoApps(b).every((id) => a.apps.some((x) => x.id === id)));
  });

  test('any seed and size, any two windows that overlap or meet', { timeout: 120_000 }, () => {
    const start = at('2026-01-01T00:00:00Z').toMillis();
    fc.assert(
      fc.property(
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 0, max: 2 * 365 * 86_400 }),
        fc.integer({ min: 86_400, max: 40 * 86_400 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 86_400, max: 40 * 86_400 }),
        (seed, apps, accounts, offset, lengthA, where, lengthB) => {
          const dayBeforeMonthEnd = (d: DateTime) =>
            d.startOf('month').plus({ months: 1 }).diff(d).as('days') < 1 ? d.startOf('month') : d;
          const fromA = dayBeforeMonthEnd(DateTime.fromMillis(start + offset * 1000, { zone: 'utc' }));
          const wa = { from: fromA, to: fromA.plus({ seconds: lengthA }) };
          // b starts anywhere from a's start to a's end (meeting it), to the second, and a day before its month ends.
          const b0 = DateTime.fromMillis(Math.round(wa.from.toMillis() / 1000 + where * lengthA) * 1000, { zone: 'utc' });
          const fromB = DateTime.min(b0, b0.startOf('month').plus({ months: 1, days: -1 }));
          const wb = { from: fromB, to: fromB.plus({ seconds: lengthB }) };
          const a = simulatePlatform({ seed, from: wa.from, to: wa.to, apps, accounts });
          const b = simulatePlatform({ seed, from: wb.from, to: wb.to, apps, accounts });
          checkTogether(a, wa, b, wb);
        },
      ),
      { numRuns: 30 },
    );
  });
});
