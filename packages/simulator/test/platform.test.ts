import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import type { BillingEvent } from '@vault/contracts';
import { DEMO_ACCOUNT, demoWindow, JOB_NAME, LATE_ONE_OFF_SIZE, simulatePlatform } from '../src/index.ts';
import { bySubject, checkInvariants, productsOf, unique } from './invariants.ts';

const NOW = DateTime.fromISO('2026-11-23T12:34:56Z', { zone: 'utc' });
const WINDOW = demoWindow(NOW, 72);
const demo = simulatePlatform({ seed: 1, from: WINDOW.from, to: WINDOW.to });
const ms = (e: BillingEvent) => Date.parse(e.time);

describe('simulatePlatform: the demo platform (seed 1, 36 apps, 8 accounts, October to 23 November)', () => {
  test('every event is valid under events-v1, in the window or the history of what exists at its start, without gaps, priced, with transfers and late events last of their subject', () => {
    checkInvariants(demo, WINDOW.from, WINDOW.to);
  });

  test('has dozens of apps over 8 accounts, the demo account owning several, and a few thousand events', () => {
    assert.equal(demo.apps.length, 36);
    assert.deepEqual(demo.accounts, [
      'acct-demo',
      'acct-0002',
      'acct-0003',
      'acct-0004',
      'acct-0005',
      'acct-0006',
      'acct-0007',
      'acct-0008',
    ]);
    assert.equal(demo.demoAccount, DEMO_ACCOUNT);
    assert.ok(demo.apps.filter((a) => a.owner === DEMO_ACCOUNT).length >= 3);
    for (const account of demo.accounts)
      assert.ok(
        demo.apps.some((a) => a.owner === account),
        `${account} owns an app`,
      );
    assert.ok(demo.events.length >= 2_000 && demo.events.length <= 10_000, `${demo.events.length} events`);
    assert.equal(demo.summary.events, demo.events.length);
  });

  test('is the same for the same seed and window, and different for another seed', () => {
    const again = simulatePlatform({ seed: 1, from: WINDOW.from, to: WINDOW.to });
    assert.deepEqual(again, demo);
    const ids = new Set(demo.events.map((e) => e.subject));
    for (const [what, other] of [
      ['another seed', simulatePlatform({ seed: 2, from: WINDOW.from, to: WINDOW.to })],
      ['another size', simulatePlatform({ seed: 1, from: WINDOW.from, to: WINDOW.to, apps: 35 })],
    ] as const) {
      // Another platform: publishing both never reuses an id with other content.
      assert.ok(
        other.events.every((e) => !ids.has(e.subject)),
        `${what} names other apps, dynos and add-ons`,
      );
      assert.notEqual(other.events.length, demo.events.length);
    }
  });

  test('web dynos run all the time and restart daily, the new instance starting seconds before the old one stops; at the turn of the month all stop and start anew', () => {
    const applied = unique(demo.events);
    const web = applied.filter(
      (e): e is Extract<BillingEvent, { type: 'dyno.started' }> => e.type === 'dyno.started' && e.data.name === 'web.1',
    );
    const stops = new Map(applied.filter((e) => e.type === 'dyno.stopped').map((e) => [e.subject, e]));
    const perApp = new Map<string, typeof web>();
    for (const e of web) perApp.set(e.data.app_id, [...(perApp.get(e.data.app_id) ?? []), e]);
    assert.ok(perApp.size >= 20, 'most apps run web.1');
    const november = Date.parse('2026-11-01T00:00:00Z');
    for (const [app, starts] of perApp) {
      // From about the window's start to its end, one instance a day, each followed by the next.
      assert.ok(ms(starts[0]!) - WINDOW.from.toMillis() < 5 * 60_000, `${app}'s web.1 runs from the start`);
      for (let i = 1; i < starts.length; i++) {
        const stop = stops.get(starts[i - 1]!.subject)!;
        if (ms(starts[i]!) >= november && ms(starts[i - 1]!) < november) {
          // The month's last instance stops within the minute before it ends; November's first starts within three minutes.
          assert.ok(ms(stop) < november && november - ms(stop) <= 60_000, `${app}'s October web.1 stops just before November`);
          assert.ok(ms(starts[i]!) - november <= 180_000, `${app}'s November web.1 starts just after`);
          continue;
        }
        const gap = ms(starts[i]!) - ms(starts[i - 1]!);
        assert.ok(gap >= 24 * 3600_000 && gap <= (24 * 60 + 216) * 60_000, `${app} restarts web.1 daily`);
        const overlap = ms(stop) - ms(starts[i]!);
        assert.ok(overlap > 0 && overlap <= 30_000, `${app}'s old web.1 stops a few seconds after the new one starts`);
      }
      assert.ok(!stops.has(starts.at(-1)!.subject), `${app}'s current web.1 is still running at the window's end`);
    }
  });

  test('workers scale out to worker.2 and worker.3 and back; one-off run.NNNN dynos come and go; sizes vary', () => {
    const started = unique(demo.events).filter((e): e is Extract<BillingEvent, { type: 'dyno.started' }> => e.type === 'dyno.started');
    const names = new Set(started.map((e) => e.data.name.replace(/^run\.\d{4}$/, 'run.NNNN')));
    for (const name of ['web.1', 'web.2', 'worker.1', 'worker.2', 'worker.3', 'run.NNNN']) assert.ok(names.has(name), name);
    assert.ok(new Set(started.map((e) => e.data.size)).size >= 4, 'several sizes');
    const stopped = new Set(
      unique(demo.events)
        .filter((e) => e.type === 'dyno.stopped')
        .map((e) => e.subject),
    );
    const scaled = started.filter((e) => e.data.name === 'worker.2' || e.data.name === 'worker.3');
    assert.ok(scaled.filter((e) => stopped.has(e.subject)).length >= scaled.length - 10, 'scaled-out workers go away again');
  });

  test('add-ons of several services are provisioned, change plan and are destroyed', () => {
    const applied = unique(demo.events);
    const services = new Set(applied.flatMap((e) => (e.type === 'addon.provisioned' ? [e.data.service] : [])));
    assert.deepEqual([...services].sort(), ['heroku-postgresql', 'heroku-redis', 'papertrail', 'scheduler']);
    assert.ok(applied.filter((e) => e.type === 'addon.plan_changed').length >= 3);
    assert.ok(applied.filter((e) => e.type === 'addon.deprovisioned').length >= 1);
    assert.ok(productsOf(applied).size >= 12, 'a dozen products or more');
  });

  test("the late events: two stops of the demo app's scheduled job, early in October; until they arrive the runs count as running", () => {
    assert.deepEqual(
      demo.late.map((e) => e.type),
      ['dyno.stopped', 'dyno.stopped'],
    );
    for (const e of demo.late) {
      assert.equal(demo.apps.find((a) => a.id === e.data.app_id)?.owner, DEMO_ACCOUNT);
      assert.ok(e.time.startsWith('2026-10-01T'), e.time);
      // Without its stop the run is open: billed to October's end until the stop arrives.
      const start = demo.events.find((s) => s.subject === e.subject)!;
      assert.ok(
        start.type === 'dyno.started' && start.data.name === JOB_NAME && start.data.size === LATE_ONE_OFF_SIZE,
        JSON.stringify(start),
      );
    }
    // The job runs three times a day all month; the late ones are its first two runs.
    const runs = unique(demo.events).filter((e) => e.type === 'dyno.started' && e.data.name === JOB_NAME);
    assert.ok(runs.length >= 3 * 53, `${runs.length} runs`);
  });

  test('a later end repeats every earlier event unchanged and only adds more, so re-publishing is harmless', () => {
    const shorter = simulatePlatform({ seed: 1, from: WINDOW.from, to: NOW.minus({ days: 12 }) });
    const longer = new Map(unique([...demo.events, ...demo.late]).map((e) => [`${e.source}/${e.id}`, JSON.stringify(e)]));
    for (const e of unique([...shorter.events, ...shorter.late])) {
      assert.equal(longer.get(`${e.source}/${e.id}`), JSON.stringify(e), `${e.id} is the same in the longer window`);
    }
    const cut = NOW.minus({ days: 12 }).toMillis();
    const earlier = unique([...demo.events, ...demo.late]).filter((e) => ms(e) < cut);
    assert.equal(earlier.length, unique([...shorter.events, ...shorter.late]).length);
    assert.deepEqual(shorter.late, demo.late);
  });

  test('a later end on the same day repeats every earlier event of a short window too', () => {
    const from = DateTime.fromISO('2026-11-09T00:00:00Z', { zone: 'utc' });
    const early = simulatePlatform({ seed: 3, from, to: from.plus({ days: 14, hours: 1 }), apps: 10 });
    const late = simulatePlatform({ seed: 3, from, to: from.plus({ days: 14, hours: 23 }), apps: 10 });
    const later = new Map(unique([...late.events, ...late.late]).map((e) => [`${e.source}/${e.id}`, JSON.stringify(e)]));
    for (const e of unique([...early.events, ...early.late])) assert.equal(later.get(`${e.source}/${e.id}`), JSON.stringify(e));
    assert.deepEqual(early.late, late.late);
    assert.deepEqual(early.summary.transfers, late.summary.transfers.slice(0, early.summary.transfers.length));
  });

  test('refuses options it cannot honour, naming them', () => {
    const from = WINDOW.from;
    assert.throws(() => simulatePlatform({ seed: 1, from, to: from.plus({ hours: 23 }) }), /to the window must be at least one day/);
    assert.throws(() => simulatePlatform({ seed: 1, from, to: WINDOW.to, apps: 1 }), /apps/);
    assert.throws(() => simulatePlatform({ seed: 1, from, to: WINDOW.to, accounts: 1 }), /accounts/);
    assert.throws(() => simulatePlatform({ seed: 1.5, from, to: WINDOW.to }), /seed/);
    assert.throws(
      () => simulatePlatform({ seed: 1, from: from.endOf('month').minus({ hours: 23 }), to: WINDOW.to }),
      /from must be at least a day before the end of its month/,
    );
    const early = DateTime.fromISO('2024-12-20T00:00:00Z', { zone: 'utc' });
    assert.throws(
      () => simulatePlatform({ seed: 1, from: early, to: early.plus({ weeks: 2 }) }),
      /from must be at or after 2025-01-01T00:00:00Z, when the simulated platform starts/,
    );
  });
});

describe('simulatePlatform: any seed, size and window', () => {
  test('keeps every invariant', { timeout: 120_000 }, () => {
    const start = DateTime.fromISO('2026-01-01T00:00:00Z', { zone: 'utc' }).toMillis();
    fc.assert(
      fc.property(
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.integer({ min: 2, max: 14 }),
        fc.integer({ min: 2, max: 6 }),
        // Window starts anywhere in three years, to the second, at least a day before its month ends.
        fc.integer({ min: 0, max: 3 * 365 * 86_400 }),
        fc.integer({ min: 86_400, max: 70 * 86_400 }),
        (seed, apps, accounts, offset, length) => {
          let from = DateTime.fromMillis(start + offset * 1000, { zone: 'utc' });
          if (from.startOf('month').plus({ months: 1 }).diff(from).as('days') < 1) from = from.startOf('month');
          const to = from.plus({ seconds: length });
          const sim = simulatePlatform({ seed, from, to, apps, accounts });
          checkInvariants(sim, from, to);
          assert.equal(sim.apps.length, apps);
          assert.equal(sim.accounts.length, accounts);
          assert.ok(bySubject(sim.events).size > apps);
        },
      ),
      { numRuns: 40 },
    );
  });
});
