// `time` is hashed as its instant: the same event with its time written any
// way the contract accepts is one content (a duplicate, never "id reused"),
// different instants are different contents, and an event stored by its hash
// of before (time as written) is still a duplicate of a copy sent as it was.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Timestamp, type BillingEvent } from '@vault/contracts';
import { DateTime } from 'luxon';
import { asSentHash, eventContentHash, legacyContentHash, verdict } from '../src/domain/content-hash.ts';
import { instantText } from '../src/domain/instant-time.ts';
import { referenceContentHash, referenceInstantTime } from '../src/domain/judge-reference.ts';

const event = (time: string): BillingEvent =>
  ({
    specversion: '1.0',
    id: 'e-1',
    source: 'dyno-manager',
    type: 'dyno.started',
    time,
    subject: 'd-1',
    sequence: 1,
    data: { app_id: 'app-1', name: 'web.1', size: 'standard-1x' },
  }) as unknown as BillingEvent;

const SAME_INSTANT = [
  '2026-12-01T00:00:00Z',
  '2026-12-01T00:00:00.000Z',
  '2026-12-01T00:00:00.000000Z',
  '2026-12-01T00:00:00.000000000Z',
  '2026-12-01T00:00:00+00:00',
  '2026-12-01T00:00:00-00:00',
  '2026-12-01T01:00:00+01:00',
  '2026-12-01T01:00:00.0+01:00',
  '2026-11-30T19:30:00-04:30',
];

describe('the content hash reads `time` as its instant', () => {
  test('the same instant written every way (Z, .000Z, .000000Z, +00:00, +01:00, -04:30): one hash', () => {
    const hashes = new Set(SAME_INSTANT.map((t) => eventContentHash(event(t))));
    assert.equal(hashes.size, 1);
    for (const t of SAME_INSTANT) assert.equal(instantText(t), '2026-12-01T00:00:00.000Z', t);
  });

  test('different instants differ, down to a digit past microseconds or nanoseconds', () => {
    const times = [
      '2026-12-01T00:00:00Z',
      '2026-12-01T00:00:01Z',
      '2026-12-01T00:00:00.001Z',
      '2026-12-01T00:00:00.000001Z',
      '2026-12-01T00:00:00.0000001Z',
      '2026-12-01T00:00:00.0000000001Z',
      '2026-12-01T00:00:00+01:00',
      '2026-12-01T00:00:00-00:01',
    ];
    assert.equal(new Set(times.map((t) => eventContentHash(event(t)))).size, times.length);
    assert.equal(instantText('2026-12-01T00:00:00.0000001Z'), '2026-12-01T00:00:00.0000001Z');
    assert.equal(instantText('2026-12-01T01:00:00.12345600+01:00'), '2026-12-01T00:00:00.123456Z');
  });

  test("an archive line's event (time in UTC with six decimals, as the store has it) hashes to the hash it was stored with", () => {
    const stored = eventContentHash({ ...event('2026-12-01T02:00:00.12+02:00'), datacontenttype: undefined } as BillingEvent);
    assert.equal(eventContentHash(event('2026-12-01T00:00:00.120000Z')), stored);
  });

  test('a time already in the form (.sssZ, or more digits ending in a non-zero one) is its own text: the hash as before', () => {
    for (const t of ['2026-12-01T00:00:00.000Z', '2026-12-01T00:00:00.120Z', '2026-12-01T00:00:00.1234567Z']) {
      assert.equal(instantText(t), t);
      assert.equal(eventContentHash(event(t)), referenceContentHash(event(t)));
      assert.equal(asSentHash(event(t)), undefined, 'no second hash to try');
    }
  });

  test('years at the ends of the range, leap days, offsets of ±23:59 across a day, month and year', () => {
    const cases: [string, string][] = [
      ['0000-01-01T00:30:00+01:00', '-000001-12-31T23:30:00.000Z'],
      ['9999-12-31T23:59:59-23:59', '+010000-01-01T23:58:59.000Z'],
      ['2024-02-29T23:00:00-01:00', '2024-03-01T00:00:00.000Z'],
      ['2027-01-01T00:00:00.5+00:01', '2026-12-31T23:59:00.500Z'],
      ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000Z'],
    ];
    for (const [time, utc] of cases) {
      assert.equal(instantText(time), utc, time);
      assert.equal(referenceInstantTime(time), utc, time);
    }
  });

  test('every time the contract accepts (property corpus): the text luxon gives, the same instant as luxon reads it', () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const time = fc
      .record({
        year: fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        month: fc.integer({ min: 1, max: 12 }).map((n) => String(n).padStart(2, '0')),
        day: fc.integer({ min: 1, max: 31 }).map((n) => String(n).padStart(2, '0')),
        hour: two(23),
        minute: two(59),
        second: two(59),
        fraction: fc.option(fc.stringMatching(/^\d{1,12}$/), { nil: undefined }),
        offset: fc.oneof(
          fc.constant('Z'),
          fc.tuple(fc.constantFrom('+', '-'), two(23), two(59)).map(([s, h, m]) => `${s}${h}:${m}`),
        ),
      })
      .map((t) => `${t.year}-${t.month}-${t.day}T${t.hour}:${t.minute}:${t.second}${t.fraction ? `.${t.fraction}` : ''}${t.offset}`)
      .filter((t) => Timestamp.safeParse(t).success);
    fc.assert(
      fc.property(time, (t) => {
        const text = instantText(t);
        assert.equal(text, referenceInstantTime(t));
        assert.equal(DateTime.fromISO(text).toMillis(), DateTime.fromISO(t).toMillis(), 'the same instant, to the millisecond luxon reads');
        assert.equal(instantText(text), text, 'its own text');
      }),
      { numRuns: 5000 },
    );
  });

  test('an event stored by its hash of before (time as written, with or without the JSON datacontenttype): a copy sent as it was is a duplicate, other content reused', () => {
    const sent = event('2026-12-01T01:00:00+01:00');
    const item = { event: sent, contentHash: eventContentHash(sent)! };
    const before = referenceContentHash(sent);
    assert.notEqual(before, item.contentHash, 'hashed differently now');
    assert.equal(verdict(before, item), 'duplicate');
    assert.equal(asSentHash(sent), before);
    const withType = referenceContentHash({ ...sent, datacontenttype: 'application/json' });
    assert.equal(legacyContentHash(sent), withType);
    assert.equal(verdict(withType, item), 'duplicate');
    const other = event('2026-12-01T01:00:01+01:00');
    assert.equal(verdict(referenceContentHash(other), item), 'reused');
    // Stored the new way, another form of the same instant is a duplicate too.
    assert.equal(
      verdict(item.contentHash, { event: event('2026-12-01T00:00:00Z'), contentHash: eventContentHash(event('2026-12-01T00:00:00Z'))! }),
      'duplicate',
    );
  });
});
