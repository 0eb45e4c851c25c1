import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { demoWindow, recentWindow } from '../src/index.ts';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true });
const iso = (d: DateTime) => d.toUTC().toISO();

describe('demoWindow: from the latest month past its grace period up to now', () => {
  test('on 2026-11-23 with 72 hours, October is finalizable and the window starts on 1 October', () => {
    const w = demoWindow(at('2026-11-23T12:00:00Z'), 72);
    assert.equal(w.finalizable, '2026-10');
    assert.equal(iso(w.from), '2026-10-01T00:00:00.000Z');
    assert.equal(iso(w.to), '2026-11-23T12:00:00.000Z');
  });

  test('on 2026-12-02 November is not due until 4 December, so October it is', () => {
    const w = demoWindow(at('2026-12-02T09:00:00Z'), 72);
    assert.equal(w.finalizable, '2026-10');
    assert.equal(iso(w.from), '2026-10-01T00:00:00.000Z');
  });

  test('the month is due exactly at its end plus the grace period, not a millisecond before', () => {
    assert.equal(demoWindow(at('2026-12-04T00:00:00Z'), 72).finalizable, '2026-11');
    assert.equal(iso(demoWindow(at('2026-12-04T00:00:00Z'), 72).from), '2026-11-01T00:00:00.000Z');
    assert.equal(demoWindow(at('2026-12-03T23:59:59.999Z'), 72).finalizable, '2026-10');
  });

  test('a leap February (2028) ends on 1 March and is due on 4 March', () => {
    assert.equal(demoWindow(at('2028-03-03T23:59:59Z'), 72).finalizable, '2028-01');
    const due = demoWindow(at('2028-03-04T00:00:00Z'), 72);
    assert.equal(due.finalizable, '2028-02');
    assert.equal(iso(due.from), '2028-02-01T00:00:00.000Z');
  });

  test('the grace period is configurable: with 0 hours the previous month is due at midnight', () => {
    assert.equal(demoWindow(at('2026-11-01T00:00:00Z'), 0).finalizable, '2026-10');
    assert.equal(demoWindow(at('2026-10-31T23:59:59Z'), 0).finalizable, '2026-09');
  });

  test('a grace period longer than a month reaches further back', () => {
    assert.equal(demoWindow(at('2026-11-23T12:00:00Z'), 24 * 40).finalizable, '2026-09');
  });

  test('a clock in another zone is read as the instant it is: months are UTC', () => {
    // 2026-12-04T01:30+02:00 is 2026-12-03T23:30Z: November is not due yet.
    const w = demoWindow(at('2026-12-04T01:30:00+02:00'), 72);
    assert.equal(w.finalizable, '2026-10');
    assert.equal(w.from.zoneName, 'UTC');
    assert.equal(iso(w.to), '2026-12-03T23:30:00.000Z');
  });
});

describe('recentWindow: the last W weeks, from the start of that day', () => {
  test('two weeks before 2026-11-23T12:34Z start on 2026-11-09T00:00Z', () => {
    const w = recentWindow(at('2026-11-23T12:34:56Z'), 2);
    assert.equal(iso(w.from), '2026-11-09T00:00:00.000Z');
    assert.equal(iso(w.to), '2026-11-23T12:34:56.000Z');
  });

  test('weeks must be a whole number, 1 or more', () => {
    assert.throws(() => recentWindow(at('2026-11-23T12:00:00Z'), 0), /weeks/);
    assert.throws(() => recentWindow(at('2026-11-23T12:00:00Z'), 1.5), /weeks/);
  });
});
