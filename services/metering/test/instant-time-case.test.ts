// RFC 3339 §5.6's NOTE allows `t` and `z` in lower case. Such a `time` is the very
// instant of its upper-case form, so the content hash reads it as one: an event sent
// `…t…z`, then `…T…Z` with the same id, is a duplicate, never "id reused". The hash's
// fast paths return an upper-case `.sssZ` text as it is; a lower-case one must not be.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BillingEvent } from '@vault/contracts';
import { eventContentHash, verdict } from '../src/domain/content-hash.ts';
import { instantText } from '../src/domain/instant-time.ts';
import { judge } from '../src/domain/judge.ts';
import { judgeUncompiled, referenceInstantTime } from '../src/domain/judge-reference.ts';

const fields = {
  specversion: '1.0',
  id: 'e-1',
  source: 'dyno-manager',
  type: 'dyno.started',
  subject: 'd-1',
  sequence: 1,
  data: { app_id: 'app-1', name: 'web.1', size: 'standard-1x' },
};
const event = (time: string) => ({ ...fields, time }) as unknown as BillingEvent;

/** Lower-case forms and the one text of their instant. */
const CASES: [string, string][] = [
  ['2026-12-01t00:00:00z', '2026-12-01T00:00:00.000Z'],
  ['2026-12-01t00:00:00Z', '2026-12-01T00:00:00.000Z'],
  ['2026-12-01T00:00:00z', '2026-12-01T00:00:00.000Z'],
  ['2026-12-01t00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
  ['2026-12-01t00:00:00.123z', '2026-12-01T00:00:00.123Z'],
  ['2026-12-01T00:00:00.123z', '2026-12-01T00:00:00.123Z'],
  ['2026-12-01t00:00:00.1234567Z', '2026-12-01T00:00:00.1234567Z'],
  ['2026-12-01t00:00:00.1200z', '2026-12-01T00:00:00.120Z'],
  ['2026-12-01t01:00:00+01:00', '2026-12-01T00:00:00.000Z'],
  ['2026-12-01t00:00:00-00:00', '2026-12-01T00:00:00.000Z'],
];

describe('`time` with a lower-case `t` or `z`: one instant, one content hash', () => {
  test('instantText gives the upper-case text of the instant, also on its fast paths (.sssZ, whole seconds), as luxon does', () => {
    for (const [time, text] of CASES) {
      assert.equal(instantText(time), text, time);
      assert.equal(referenceInstantTime(time), text, `reference: ${time}`);
    }
  });

  test('the same event sent `…t…z` and `…T…Z`: one content hash, and the second is a duplicate of the first, never reused', () => {
    for (const [time, text] of CASES) {
      const lower = { event: event(time), contentHash: eventContentHash(event(time))! };
      assert.equal(lower.contentHash, eventContentHash(event(text)), time);
      assert.equal(verdict(eventContentHash(event(text))!, lower), 'duplicate', time);
    }
  });

  test('the judge and its reference accept `…t…z`, keep `time` as sent, and hash it as `…T…Z`', () => {
    const messages = ['2026-10-20t11:00:00z', '2026-10-20T11:00:00Z', '2026-10-20t12:00:00.000+01:00'].map((time) => ({
      bytes: Buffer.from(JSON.stringify({ ...fields, time })),
      receivedAtMs: Date.parse('2026-10-20T12:00:00Z'),
    }));
    for (const judging of [judge, judgeUncompiled]) {
      const judged = judging(messages, Date.parse('2026-10-20T12:00:00Z'));
      assert.equal(judged.invalid.length, 0, JSON.stringify(judged.invalid.map((i) => i.reasons)));
      assert.deepEqual(
        judged.valid.map((v) => v.event.time),
        ['2026-10-20t11:00:00z', '2026-10-20T11:00:00Z', '2026-10-20t12:00:00.000+01:00'],
        'kept as sent',
      );
      assert.equal(new Set(judged.valid.map((v) => v.contentHash)).size, 1, 'one instant, one hash');
    }
  });
});
