import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ID_REUSED_REASON, REASON_CODES, formatReasons, parseEvent } from '../src/index.ts';
import { NOW, validEvent } from './fixtures.ts';

test('formatReasons writes one line "field: message", joined by "; "', () => {
  const result = parseEvent(validEvent('dyno.started', { time: '2026-10-01T00:00:00' }, { size: undefined }), { now: NOW });
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(formatReasons(result.reasons), 'time: must be an RFC 3339 timestamp with an offset; data.size: required');
});

test('formatReasons leaves out the empty field of a whole-message reason', () => {
  assert.equal(formatReasons([{ field: '', code: 'not_object', message: 'must be a JSON object' }]), 'must be a JSON object');
});

test('formatReasons of no reasons is the empty string', () => {
  assert.equal(formatReasons([]), '');
});

test('the id-reused reason uses the spec wording and a listed code', () => {
  assert.equal(formatReasons([ID_REUSED_REASON]), 'id: id reused with different content');
  assert.ok(REASON_CODES.includes(ID_REUSED_REASON.code));
});
