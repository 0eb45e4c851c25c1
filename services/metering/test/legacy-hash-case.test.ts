// Hashes stored or claimed before `time` was hashed as its instant were made from `time` as
// written, and a lower-case `t`/`z` was refused then: every such hash has an upper-case `T`
// and `Z`. A lower-case copy of such an event is the same event, so it is a duplicate of it, as
// its upper-case copy is, never "id reused"; and the legacy hashes of upper-case times are
// byte for byte the hashes of then (pure).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { BillingEvent } from '@vault/contracts';
import { contractTime } from '../../../packages/contracts/test/time-arbitraries.ts';
import { asSentHash, eventContentHash, legacyContentHash, legacyTime, verdict } from '../src/domain/content-hash.ts';
import { instantText } from '../src/domain/instant-time.ts';
import { referenceContentHash } from '../src/domain/judge-reference.ts';

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
const item = (time: string) => ({ event: event(time), contentHash: eventContentHash(event(time))! });
/** The two hashes the judge made before instants: `time` as written, without and with the JSON datacontenttype. */
const hashesOfThen = (time: string) => [
  referenceContentHash(event(time)),
  referenceContentHash({ ...event(time), datacontenttype: 'application/json' }),
];
/** Every lower-case variant of an upper-case time: `t`, `z`, both. */
const lowerCopies = (time: string) => {
  const t = `${time.slice(0, 10)}t${time.slice(11)}`;
  return time.endsWith('Z') ? [t, `${time.slice(0, -1)}z`, `${t.slice(0, -1)}z`] : [t];
};

/** Upper-case times the contract accepts: the only ones a hash of then was made from. */
const upperTime = contractTime;

describe('legacy hashes (time as written before instants) against lower-case `t`/`z` copies (pure)', () => {
  test('an event stored or claimed by a hash of then (…T…Z, +01:00, .0Z; with or without datacontenttype): its lower-case copies are duplicates, as its upper-case copy is', () => {
    for (const time of ['2026-01-01T10:00:00Z', '2026-01-01T11:00:00+01:00', '2026-01-01T10:00:00.100Z', '2026-01-01T10:00:00.000000Z']) {
      for (const then of hashesOfThen(time)) {
        assert.equal(verdict(then, item(time)), 'duplicate', time);
        for (const lower of lowerCopies(time)) assert.equal(verdict(then, item(lower)), 'duplicate', `${time} sent as ${lower}`);
      }
    }
  });

  test('other content under the id, in lower case, is still reused', () => {
    const [then] = hashesOfThen('2026-01-01T10:00:00Z');
    assert.equal(verdict(then, item('2026-01-01t10:00:01z')), 'reused');
    assert.equal(verdict(then, { ...item('2026-01-01t10:00:00z'), event: { ...event('2026-01-01t10:00:00z'), subject: 'd-2' } }), 'reused');
  });

  test('legacyTime raises only position 10 and the final letter; the offset, digits and fraction are left as written', () => {
    assert.equal(legacyTime('2026-01-01t10:00:00z'), '2026-01-01T10:00:00Z');
    assert.equal(legacyTime('2026-01-01t10:00:00.5+01:00'), '2026-01-01T10:00:00.5+01:00');
    assert.equal(legacyTime('2026-01-01T10:00:00.50z'), '2026-01-01T10:00:00.50Z');
    const upper = '2026-01-01T10:00:00Z';
    assert.equal(legacyTime(upper), upper);
  });

  test('property: for every upper-case time the legacy hashes are byte-identical to the hashes of then, and every lower-case copy has the same ones', () => {
    fc.assert(
      fc.property(upperTime, (time) => {
        assert.equal(legacyTime(time), time, 'no copy, no change');
        const [asWritten, withType] = hashesOfThen(time);
        // asSentHash is undefined exactly when the hash of then is the content hash (time in the instant's form).
        assert.equal(asSentHash(event(time)), instantText(time) === time ? undefined : asWritten);
        assert.equal(legacyContentHash(event(time)), withType);
        for (const lower of lowerCopies(time)) {
          assert.equal(asSentHash(event(lower)), asSentHash(event(time)), lower);
          assert.equal(legacyContentHash(event(lower)), withType, lower);
          for (const then of [asWritten!, withType!]) assert.equal(verdict(then, item(lower)), 'duplicate', lower);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
