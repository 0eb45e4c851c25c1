// RFC 3339 §5.6's NOTE allows `t` and `z` in lower case: such a `time` is accepted,
// kept as sent, and read as the very instant of its upper-case form by every reader
// (readTime, eventTimeMs, the 5-minute rule). Otherwise the contract's pattern is
// zod's own `iso.datetime` (a leap second and a space separator stay refused).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { eventTimeMs, parseEvent, readTime, Timestamp } from '../src/index.ts';
import { lowerCased } from './arbitraries.ts';
import { validEvent } from './fixtures.ts';

/** `time` with `T` and `Z` in upper case (the only place either letter can stand in the form). */
const upper = (time: string) =>
  time.length > 10 ? `${time.slice(0, 10)}${time[10]!.toUpperCase()}${time.slice(11, -1)}${time.at(-1)!.toUpperCase()}` : time;

const zodDatetime = z.iso.datetime({ offset: true });

const CASES: [string, string][] = [
  ['2026-12-01t00:00:00z', '2026-12-01T00:00:00Z'],
  ['2026-12-01t00:00:00Z', '2026-12-01T00:00:00Z'],
  ['2026-12-01T00:00:00z', '2026-12-01T00:00:00Z'],
  ['2026-12-01t00:00:00.000z', '2026-12-01T00:00:00.000Z'],
  ['2026-12-01t00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
  ['2026-12-01t00:00:00.0000001z', '2026-12-01T00:00:00.0000001Z'],
  ['2026-12-01t01:00:00.5+01:00', '2026-12-01T01:00:00.5+01:00'],
  ['2024-02-29t23:59:59-23:59', '2024-02-29T23:59:59-23:59'],
];

describe('`time` with a lower-case `t` or `z` (RFC 3339 §5.6 NOTE)', () => {
  test('is accepted, kept as sent, and read as the instant of its upper-case form (readTime, eventTimeMs)', () => {
    for (const [lower, up] of CASES) {
      const parsed = parseEvent(validEvent('dyno.started', { time: lower }), { now: new Date('2027-01-01T00:00:00Z') });
      assert.ok(parsed.ok, `${lower}: ${JSON.stringify(parsed)}`);
      assert.equal(parsed.event.time, lower, 'kept as sent');
      assert.equal(eventTimeMs({ time: lower }), eventTimeMs({ time: up }), lower);
      assert.ok(Number.isFinite(eventTimeMs({ time: lower })), lower);
      assert.deepEqual(readTime(lower), readTime(up), lower);
    }
  });

  test('a leap second, a space separator, no offset or no seconds stay refused in lower case too', () => {
    for (const time of [
      '2026-12-31t23:59:60z',
      '2026-12-01 00:00:00z',
      '2026-12-01t00:00:00',
      '2026-12-01t00:00z',
      '2026-02-29t00:00:00z',
    ]) {
      assert.equal(Timestamp.safeParse(time).success, false, time);
    }
    // readTime checks the shape only (the judge has checked the values): not these.
    for (const time of ['2026-12-01 00:00:00z', '2026-12-01t00:00:00', '2026-12-01t00:00z']) {
      assert.equal(readTime(time), undefined, time);
      assert.ok(Number.isNaN(eventTimeMs({ time })), time);
    }
  });

  test('the 5-minute rule reads a lower-case time as its instant: exactly 5 minutes ahead passes, a millisecond more is refused', () => {
    const now = new Date('2026-11-01T00:00:00Z');
    const at = (time: string) => parseEvent(validEvent('dyno.stopped', { time }), { now });
    assert.ok(at('2026-11-01t00:05:00.000z').ok);
    assert.ok(at('2026-11-01t01:05:00+01:00').ok);
    const late = at('2026-11-01t00:05:00.001z');
    assert.ok(!late.ok && late.reasons.some((r) => r.code === 'time_in_future'));
  });

  test('any string (property): accepted exactly when zod’s own datetime accepts it with `T` and `Z` in upper case', () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const near = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        two(13),
        two(32),
        fc.constantFrom('T', 't', ' ', 'x'),
        two(24),
        two(60),
        two(61),
        fc.option(fc.stringMatching(/^\d{0,10}$/), { nil: undefined }),
        fc.constantFrom('Z', 'z', '+01:00', '-23:59', '+24:00', '+0100', ''),
      )
      .map(([y, mo, d, sep, h, mi, s, f, off]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${f === undefined ? '' : `.${f}`}${off}`);
    const anyString = fc.oneof(near, fc.string({ maxLength: 30 }));
    fc.assert(
      fc.property(anyString, (time) => {
        assert.equal(Timestamp.safeParse(time).success, time.length <= 40 && zodDatetime.safeParse(upper(time)).success, time);
      }),
      { numRuns: 5000 },
    );
  });

  test('every time the contract accepts, with `t` and/or `z` lowered (property): the same reading as its upper-case form', () => {
    const time = fc
      .tuple(fc.integer({ min: Date.UTC(0, 0, 1), max: Date.UTC(9999, 0, 1) }), fc.integer({ min: -1439, max: 1439 }))
      .map(
        ([ms, off]) =>
          new Date(ms + off * 60_000).toISOString().slice(0, 19) +
          (off === 0
            ? 'Z'
            : `${off < 0 ? '-' : '+'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}:${String(Math.abs(off) % 60).padStart(2, '0')}`),
      )
      .filter((t) => Timestamp.safeParse(t).success);
    fc.assert(
      fc.property(time, fc.constantFrom('t', 'z', 'tz' as const), (t, lower) => {
        const sent = lowerCased(t, lower);
        assert.ok(Timestamp.safeParse(sent).success, sent);
        assert.deepEqual(readTime(sent), readTime(t));
        assert.equal(eventTimeMs({ time: sent }), eventTimeMs({ time: t }));
      }),
      { numRuns: 2000 },
    );
  });
});
