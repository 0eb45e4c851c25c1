// `time`'s fraction read exactly, at any length RFC 3339 allows: V8's Date.parse read
// `.0009999999` (ten digits or more) as `.999`, a leading zero lost, so an event a
// whole 5 minutes ahead (inside the limit) was refused as almost a second later.
// The reference is exact by construction: whole seconds through Date.parse of the
// form ECMAScript defines (no fraction), plus the fraction's first three digits.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { eventTimeIso, eventTimeMs, parseEvent, readTime, Timestamp } from '../src/index.ts';
import { validEvent } from './fixtures.ts';
import { contractTime } from './time-arbitraries.ts';

/** Epoch ms of a contract `time`: its whole seconds (ECMAScript's own format) and its fraction truncated to ms. */
function reference(time: string): number {
  const m = /^([^.]+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time)!;
  return Date.parse(`${m[1]}${m[3]}`) + Number((m[2] ?? '').slice(0, 3).padEnd(3, '0'));
}

describe('eventTimeMs reads `time` exactly, whatever its fraction’s length', () => {
  test('fractions of 1 to 19 digits, leading zeros kept, with Z and with offsets (table)', () => {
    const rows: [string, number][] = [
      ['2026-10-01T00:00:00Z', 0],
      ['2026-10-01T00:00:00.5Z', 500],
      ['2026-10-01T00:00:00.05Z', 50],
      ['2026-10-01T00:00:00.005Z', 5],
      ['2026-10-01T00:00:00.0005Z', 0],
      ['2026-10-01T00:00:00.123456Z', 123],
      ['2026-10-01T00:00:00.012345678Z', 12],
      ['2026-10-01T00:00:00.0123456789Z', 12],
      ['2026-10-01T00:00:00.0009999999Z', 0],
      ['2026-10-01T00:00:00.0999999999Z', 99],
      ['2026-10-01T00:00:00.0000000001Z', 0],
      ['2026-10-01T00:00:00.9999999999999999999Z', 999],
      ['2026-10-01T00:00:00.0844098552+00:00', 84],
      ['2026-10-01T02:00:00.0123456789+02:00', 12],
      ['2026-09-30T19:30:00.00999999999-04:30', 9],
    ];
    const base = Date.UTC(2026, 9, 1);
    for (const [time, ms] of rows) {
      assert.ok(Timestamp.safeParse(time).success, `the contract accepts ${time}`);
      assert.equal(eventTimeMs({ time }) - base, ms, time);
    }
  });

  test('every time the contract accepts (property): the exact instant floored to its millisecond; three digits as Date.parse reads them', () => {
    fc.assert(
      fc.property(contractTime, (time) => {
        const ms = eventTimeMs({ time });
        assert.equal(ms, reference(time));
        const r = readTime(time)!;
        // ECMAScript defines Date.parse for exactly three digits: there the two agree.
        const three = time.replace(/(:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/, `$1.${r.fraction.slice(0, 3).padEnd(3, '0')}$2`);
        assert.equal(ms, Date.parse(three), three);
        // Digits past the millisecond never change it (truncated, never rounded up into the next one).
        assert.equal(eventTimeMs({ time: three }), ms);
      }),
      { numRuns: 5000 },
    );
  });

  test('eventTimeIso is the same instant in UTC, milliseconds', () => {
    assert.equal(eventTimeIso({ time: '2026-10-01T02:00:00.0123456789+02:00' }), '2026-10-01T00:00:00.012Z');
    assert.equal(eventTimeIso({ time: '0000-01-01T00:30:00.5+01:00' }), '-000001-12-31T23:30:00.500Z');
  });

  test('a time not in the contract’s form reads as NaN, as Date.parse would (the judge refuses it first)', () => {
    for (const time of ['2026-10-01', '2026-10-01T00:00:00', '2026-10-01 00:00:00z', '2026-10-01T00:00:00+0200', '']) {
      assert.ok(Number.isNaN(eventTimeMs({ time })), time);
    }
  });
});

describe('the 5-minute rule reads the fraction exactly', () => {
  const now = new Date('2026-11-01T00:00:00Z');
  const at = (time: string) => parseEvent(validEvent('dyno.stopped', { time }), { now });

  test('exactly 5 minutes ahead with digits past the millisecond (.0009999999) is accepted: it is +5:00.000, not +5:00.999', () => {
    assert.ok(at('2026-11-01T00:05:00.0009999999Z').ok);
    assert.ok(at('2026-11-01T01:05:00.0009999999+01:00').ok);
  });

  test('one millisecond past 5 minutes is refused at any length of fraction', () => {
    for (const time of ['2026-11-01T00:05:00.001Z', '2026-11-01T00:05:00.0010000000001Z', '2026-11-01T01:05:00.00100000001+01:00']) {
      const r = at(time);
      assert.equal(r.ok, false, time);
      if (!r.ok)
        assert.deepEqual(
          r.reasons.map((x) => x.code),
          ['time_in_future'],
          time,
        );
    }
  });
});
