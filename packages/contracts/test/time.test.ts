import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventTimeIso, eventTimeMs } from '../src/index.ts';

test('eventTimeMs and eventTimeIso give the instant, whatever the offset', () => {
  const utc = { time: '2026-10-07T12:00:00Z' };
  const plusTwo = { time: '2026-10-07T14:00:00+02:00' };
  assert.equal(eventTimeMs(plusTwo), eventTimeMs(utc));
  assert.equal(eventTimeMs(utc), Date.UTC(2026, 9, 7, 12));
  assert.equal(eventTimeIso(plusTwo), '2026-10-07T12:00:00.000Z');
});

test('eventTimeMs truncates digits beyond milliseconds', () => {
  assert.equal(eventTimeIso({ time: '2026-10-01T00:00:00.123999Z' }), '2026-10-01T00:00:00.123Z');
});
