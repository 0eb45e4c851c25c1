// storeTime: what PostgreSQL reads of an event's `time`. RFC 3339 offsets run to
// ±23:59, PostgreSQL's to ±15:59: beyond, the same instant in UTC, fraction whole.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storeTime } from '../src/domain/store-time.ts';

describe('storeTime (pure)', () => {
  test('a time PostgreSQL reads is passed as sent', () => {
    for (const t of [
      '2026-10-03T14:00:00Z',
      '2026-10-03T16:00:00+02:00',
      '2026-10-03T00:00:00-15:59',
      '2026-10-03T14:00:00.123456+15:00',
    ]) {
      assert.equal(storeTime(t), t);
    }
  });

  test('an offset beyond 15 hours becomes the same instant in UTC, its fraction kept, across a day and a year', () => {
    assert.equal(storeTime('2026-10-03T14:00:00+16:00'), '2026-10-02T22:00:00Z');
    assert.equal(storeTime('2026-12-31T20:30:00.123456789-23:59'), '2027-01-01T20:29:00.123456789Z');
    assert.equal(storeTime('2028-03-01T05:00:00+23:00'), '2028-02-29T06:00:00Z');
    assert.equal(storeTime('0050-01-01T00:00:00+16:00'), '0049-12-31T08:00:00Z');
    for (const t of ['2026-10-03T14:00:00+16:00', '2026-12-31T20:30:00.5-23:59']) {
      assert.equal(Date.parse(storeTime(t)), Date.parse(t), t);
    }
  });
});
