import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appendTo } from '../src/domain/group.ts';

describe('appendTo: rows grouped by key (pure)', () => {
  test('keeps each group in arrival order and grows it in place, never copying it per row (quadratic for an invoice of 44,640 lines)', () => {
    const groups = new Map<string, number[]>();
    appendTo(groups, 'a', 1);
    const first = groups.get('a');
    for (let i = 2; i <= 50_000; i++) appendTo(groups, 'a', i);
    appendTo(groups, 'b', 7);
    appendTo(groups, 'b', 8);
    assert.equal(groups.get('a'), first, 'the same array, grown in place');
    assert.equal(first?.length, 50_000);
    assert.deepEqual(first?.slice(0, 3), [1, 2, 3]);
    assert.deepEqual(groups.get('b'), [7, 8]);
  });
});
