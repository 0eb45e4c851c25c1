// The one-pass canonical text and hash against the first implementation
// (judge-reference.ts: sorted keys, JSON.stringify of each leaf): stored hashes
// are compared with new ones, so the text must be the same byte for byte, for
// every parsed event and for any value contentHash is given.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseEvent, type BillingEvent } from '@vault/contracts';
import { corpusInput } from '../../../packages/contracts/test/corpus.ts';
import { canonicalJson, eventCanonicalJson } from '../src/domain/canonical-json.ts';
import { contentHash, eventContent, eventContentHash } from '../src/domain/content-hash.ts';
import { unstorableField } from '../src/domain/judge.ts';
import { referenceContentHash, referenceInstantEvent, stableJson } from '../src/domain/judge-reference.ts';
import { plan } from './arbitraries.ts';

const NOW = Date.now();

/** The events the contract accepts among the corpus (U+0000 allowed) and the intake's streams. */
const parsedEvents: fc.Arbitrary<BillingEvent[]> = fc
  .tuple(
    fc.array(corpusInput(NOW), { maxLength: 10 }),
    plan(NOW).map((p) => p.items.map((item) => item.value)),
  )
  .map(([corpus, stream]) =>
    [...corpus, ...stream].flatMap((value) => {
      const parsed = parseEvent(value, { now: NOW });
      return parsed.ok ? [parsed.event] : [];
    }),
  );

describe('the content hash, one pass against the first implementation', () => {
  test('every parsed event (property corpus): the same canonical text, hash and stored data JSON; none exactly when a string holds U+0000', () => {
    fc.assert(
      fc.property(parsedEvents, (events) => {
        for (const event of events) {
          const text = eventCanonicalJson(event);
          assert.equal(
            text === undefined,
            unstorableField(event) !== undefined,
            'no text exactly when a string holds U+0000 or half a surrogate pair',
          );
          if (text !== undefined) assert.equal(text, stableJson(event));
          assert.equal(canonicalJson(event), stableJson(event));
          assert.equal(contentHash(event), referenceContentHash(event));
          if (text !== undefined) assert.equal(eventContentHash(event), referenceContentHash(referenceInstantEvent(event)));
          if (text !== undefined) assert.equal(eventContent(event)?.dataJson, stableJson(event.data), 'the data JSON the store keeps');
        }
      }),
      { numRuns: 100 },
    );
  });

  test('any value (JSON, or with undefined members, holes, NaN, -0): the same canonical text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything({ withSparseArray: true, withObjectString: true })), (value) => {
        assert.equal(canonicalJson(value), stableJson(value));
      }),
      { numRuns: 2000 },
    );
  });

  test('values without JSON (a function member, undefined in an array, a Date): written as before', () => {
    const values: unknown[] = [
      { a: () => 1, b: 1 },
      [undefined, 1, () => 1, Symbol('s')],
      // biome-ignore lint/suspicious/noSparseArray: a hole, as Array#join wrote it
      [1, , 2],
      { when: new Date(0) },
      { '\u0000': 'k', é: '\ud800', z: { y: [null, { b: 1, a: 2 }] } },
    ];
    for (const value of values) assert.equal(canonicalJson(value), stableJson(value));
  });

  test('a value whose getter writes another value while it is written: both texts as before', () => {
    const inner = { zz: 'x'.repeat(40) };
    const value = {
      get a() {
        assert.equal(canonicalJson(inner), stableJson(inner));
        return 1;
      },
      b: 'bee',
    };
    assert.equal(canonicalJson(value), '{"a":1,"b":"bee"}');
  });

  test('an event with a key the schema lacks, or a missing one: the hash of all its keys, as before', () => {
    const event = {
      specversion: '1.0',
      id: 'e-1',
      source: 'dyno-manager',
      type: 'dyno.stopped',
      time: '2026-10-01T00:00:00Z',
      subject: 'd-1',
      sequence: 2,
      data: { app_id: 'app-1', extra: 'x' },
      more: true,
    } as unknown as BillingEvent;
    assert.equal(eventCanonicalJson(event), stableJson(event));
    // The data's JSON written after the text when the event's plan does not fit it.
    assert.equal(eventContent(event)?.dataJson, stableJson(event.data));
    const { data: _data, ...withoutData } = event;
    assert.equal(eventCanonicalJson(withoutData as BillingEvent), stableJson(withoutData));
    assert.equal(eventCanonicalJson({ ...event, datacontenttype: undefined }), stableJson(event));
  });

  test('texts past the first buffer of the writer, outside ASCII, with pairs and escapes, then a small one: the same text, data and hash', () => {
    const event = (appId: string, name: string) =>
      ({
        specversion: '1.0',
        id: 'e-big',
        source: 'dyno-manager',
        type: 'dyno.started',
        time: '2026-10-01T00:00:00Z',
        subject: 'd-big',
        sequence: 1,
        data: { app_id: appId, name, size: 'standard-1x' },
      }) as unknown as BillingEvent;
    // `name` needs no escape (written straight through); `app_id` has pairs and escapes (through JSON.stringify).
    const big = event(`${'\u{1F600}'.repeat(3_000)}"\\\n\u00ff`, `${'é'.repeat(6_000)}${'€'.repeat(6_000)}`);
    for (const e of [big, event('app-1', 'web.1'), big]) {
      assert.equal(eventCanonicalJson(e), stableJson(e));
      assert.equal(eventContentHash(e), referenceContentHash(referenceInstantEvent(e)));
      assert.equal(eventContent(e)?.dataJson, stableJson(e.data), 'the data JSON the store keeps');
      assert.equal(canonicalJson(e.data), stableJson(e.data));
    }
    assert.ok(
      Buffer.byteLength((big.data as { name: string }).name) > 16 * 1024,
      'one string larger than the buffer the writer starts with',
    );
  });
});
