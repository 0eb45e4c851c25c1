// Every dyno and add-on is its own subject. The defect: a subject's token came
// from two streams seeded by hash32 of the same name, so both halves shared
// its 32-bit FNV state, and names reaching one state gave one token: seed 9
// at 300 apps failed with "simulator bug: dyno-27d42n8ny394 goes back in
// time", and other seeds quietly gave two apps' dynos one subject.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { BillingEvent } from '@vault/contracts';
import { demoWindow, recentWindow, simulatePlatform } from '../src/index.ts';
import { subjectToken } from '../src/subject-token.ts';

// One week inside November: the simulator builds all of November, whatever the window.
const WINDOW = recentWindow(DateTime.fromISO('2026-11-20T12:00:00Z', { zone: 'utc' }), 1);

/** The subjects (dynos, add-ons) that more than one app's events name. */
function sharedSubjects(events: readonly BillingEvent[]): string[] {
  const apps = new Map<string, Set<string>>();
  for (const e of events) {
    if (e.type === 'app.owner_changed') continue;
    const set = apps.get(e.subject) ?? new Set<string>();
    set.add(e.data.app_id);
    apps.set(e.subject, set);
  }
  return [...apps].filter(([, set]) => set.size > 1).map(([subject, set]) => `${subject} (${[...set].join(', ')})`);
}

const platform = (seed: number) => simulatePlatform({ seed, from: WINDOW.from, to: WINDOW.to, apps: 300, accounts: 20 });

describe('simulatePlatform: every dyno and add-on is a subject of its own', () => {
  test('`vault simulate --seed 9 --apps 300 --accounts 20` generates (it failed: a dyno "goes back in time")', () => {
    const sim = platform(9);
    assert.ok(sim.events.length > 5_000, `${sim.events.length} events`);
    assert.deepEqual(sharedSubjects([...sim.events, ...sim.late]), []);
  });

  test("seed 20 at 300 apps on the demo's window of 2026-11-23 (October on): no dyno of two apps (three were)", () => {
    const window = demoWindow(DateTime.fromISO('2026-11-23T12:34:56Z', { zone: 'utc' }), 72);
    const sim = simulatePlatform({ seed: 20, from: window.from, to: window.to, apps: 300, accounts: 20 });
    assert.deepEqual(sharedSubjects([...sim.events, ...sim.late]), []);
  });

  test('20 seeds at 300 apps: each subject belongs to exactly one app', { timeout: 120_000 }, () => {
    for (let seed = 1; seed <= 20; seed++) {
      let sim: ReturnType<typeof platform>;
      try {
        sim = platform(seed);
      } catch (err) {
        assert.fail(`seed ${seed}: ${(err as Error).message}`);
      }
      assert.deepEqual(sharedSubjects([...sim.events, ...sim.late]), [], `seed ${seed}`);
    }
  });

  test('a token is base36 digits of SHA-256 of its name: the same for the same name, another for any other', () => {
    const token = subjectToken('9/300/20', 12, ['app', 17, 'web.1', '2026-11', 0]);
    assert.match(token, /^[0-9a-z]{12}$/);
    assert.equal(subjectToken('9/300/20', 12, ['app', 17, 'web.1', '2026-11', 0]), token);
    assert.notEqual(subjectToken('9/300/20', 12, ['app', 17, 'web.1', '2026-11', 1]), token);
    // Parts are not joined: ('a/b', 'c') and ('a', 'b/c') are other names.
    assert.notEqual(subjectToken('k', 12, ['a/b', 'c']), subjectToken('k', 12, ['a', 'b/c']));
    assert.throws(() => subjectToken('k', 49, []), /length must be 1 to 48/);
  });
});
