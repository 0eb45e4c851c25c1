// The spec's own examples (byte copies in test/fixtures/): october.ndjson must all pass, invalid.ndjson lines
// 1–9 must fail with the reason invalid-reasons.txt gives.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatReasons, parseEvent } from '../src/index.ts';
import { examplesDir, NOW } from './fixtures.ts';

function lines(name: string): string[] {
  return readFileSync(join(examplesDir, name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

describe('october.ndjson', () => {
  const october = lines('october.ndjson');

  test('has the 15 example lines', () => {
    assert.equal(october.length, 15);
  });

  october.forEach((line, i) => {
    test(`line ${i + 1} is a valid event`, () => {
      const result = parseEvent(line, { now: NOW });
      assert.ok(result.ok, result.ok ? '' : formatReasons(result.reasons));
    });
  });
});

describe('invalid.ndjson', () => {
  const invalid = lines('invalid.ndjson');

  test('has the 10 example lines', () => {
    assert.equal(invalid.length, 10);
  });
  // [line, why (from invalid-reasons.txt), field, code]
  const rejected: Array<[number, string, string, string]> = [
    [1, 'not JSON', '', 'not_json'],
    [2, 'missing id', 'id', 'required'],
    [3, 'unknown type', 'type', 'unknown_type'],
    [4, 'time without an offset', 'time', 'invalid_format'],
    [5, 'time far in the future', 'time', 'time_in_future'],
    [6, 'sequence below 1', 'sequence', 'too_small'],
    [7, 'dyno.started with a sequence other than 1', 'sequence', 'sequence_mismatch'],
    [8, 'data missing size', 'data.size', 'required'],
    [9, 'specversion not 1.0', 'specversion', 'invalid_value'],
  ];

  for (const [n, why, field, code] of rejected) {
    test(`line ${n} is rejected with exactly one reason: ${why} (${field || "''"} ${code})`, () => {
      const result = parseEvent(invalid[n - 1], { now: NOW });
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.deepEqual(
        result.reasons.map((r) => ({ field: r.field, code: r.code })),
        [{ field, code }],
        formatReasons(result.reasons),
      );
    });
  }

  test('line 10 passes on its own: "id reused with different content" needs history, so the receiver judges it', () => {
    const result = parseEvent(invalid[9], { now: NOW });
    assert.ok(result.ok, result.ok ? '' : formatReasons(result.reasons));
  });
});
