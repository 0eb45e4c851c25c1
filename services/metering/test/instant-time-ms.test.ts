// One reading of `time` (readTime, packages/contracts): the 5-minute rule's
// millisecond (eventTimeMs) is the content hash's instant (instantText) cut to
// its millisecond, for every time the contract accepts, so the two never read
// one `time` as two instants.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { eventTimeIso, eventTimeMs } from '@vault/contracts';
import { contractTime } from '../../../packages/contracts/test/time-arbitraries.ts';
import { instantText } from '../src/domain/instant-time.ts';

/** The hash's instant text cut to milliseconds: `….sss` and the `Z`. */
const toMillisecond = (text: string) => text.replace(/(\.\d{3})\d*Z$/, '$1Z');

describe('the 5-minute rule and the content hash read `time` as one instant', () => {
  test('every time the contract accepts, any fraction length and offset (property): eventTimeIso is instantText cut to the millisecond', () => {
    fc.assert(
      fc.property(contractTime, (time) => {
        assert.equal(eventTimeIso({ time }), toMillisecond(instantText(time)));
      }),
      { numRuns: 5000 },
    );
  });

  test('times one content to the hash are one millisecond to the rule (leading zeros past ten digits included)', () => {
    const same = ['2026-12-01T00:00:00.0123456789Z', '2026-12-01T01:00:00.01234567890+01:00', '2026-11-30T19:30:00.0123456789000-04:30'];
    assert.equal(new Set(same.map(instantText)).size, 1);
    assert.deepEqual(new Set(same.map((time) => eventTimeMs({ time }))), new Set([Date.UTC(2026, 11, 1) + 12]));
  });
});
