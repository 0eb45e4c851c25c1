// metering's hot path (judge: the compiled validator, one-pass canonical hash)
// against the judge as first written (judge-reference.ts): for every message
// the same valid events with the same content hashes, and the same rejections
// with the same reasons and identification — over the intake's property
// corpus, the contract's, the spec's invalid examples and raw bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { corpusInput } from '../../../packages/contracts/test/corpus.ts';
import { examplesDir } from '../../../packages/contracts/test/fixtures.ts';
import { judge, type Received } from '../src/domain/judge.ts';
import { judgeUncompiled } from '../src/domain/judge-reference.ts';
import { plan, type PlanItem } from './arbitraries.ts';

const NOW = Date.now();

const exampleLines = (name: string) =>
  readFileSync(`${examplesDir}/${name}`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');

/** Bus timestamps: at our clock, earlier, later (a fast publisher), or unusable. */
const receivedAt = fc.oneof(
  fc.constant(NOW),
  fc.integer({ min: NOW - 3_600_000, max: NOW + 3_600_000 }),
  fc.constantFrom(0, -1, Number.NaN),
);

const bytesOf = (item: PlanItem): Buffer =>
  item.kind === 'invalid' && item.bytes ? Buffer.from(item.bytes) : Buffer.from(JSON.stringify(item.value));

/** A value's JSON text as bytes; a value without one (undefined, a bigint) as bytes that are no JSON. */
function jsonBytes(value: unknown): Buffer {
  try {
    return Buffer.from(JSON.stringify(value) ?? String(value));
  } catch {
    return Buffer.from(String(value));
  }
}

/** The messages of an intake stream and of the contract's corpus (U+0000 allowed), with raw bytes mixed in. */
const messages: fc.Arbitrary<Received[]> = fc
  .tuple(
    plan(NOW + 3_600_000).map((p) => p.items.map(bytesOf)),
    fc.array(corpusInput(NOW).map(jsonBytes), { maxLength: 8 }),
    fc.array(
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
      { maxLength: 2 },
    ),
  )
  .chain(([stream, corpus, raw]) => {
    const all = [...stream, ...corpus, ...raw];
    return fc
      .array(receivedAt, { minLength: all.length, maxLength: all.length })
      .map((times) => all.map((bytes, i) => ({ bytes, receivedAtMs: times[i]!, position: `t/0/${i}` })));
  });

describe('judge (compiled validator, one-pass hash) against judgeUncompiled', () => {
  test('property corpus (intake streams, the contract’s corpus with U+0000, raw bytes): the same valid events, hashes and rejections', () => {
    fc.assert(
      fc.property(messages, (batch) => assert.deepStrictEqual(judge(batch, NOW), judgeUncompiled(batch, NOW))),
      { numRuns: 200 },
    );
  });

  test('the spec’s invalid.ndjson and october.ndjson: judged alike, line by line', () => {
    const batch = [...exampleLines('invalid.ndjson'), ...exampleLines('october.ndjson')].map((line) => ({
      bytes: Buffer.from(line),
      receivedAtMs: Date.parse('2026-11-01T00:00:00Z'),
    }));
    const judged = judge(batch, NOW);
    assert.deepStrictEqual(judged, judgeUncompiled(batch, NOW));
    assert.equal(judged.valid.length, 16, 'the 15 October events, and line 10 (an id re-used, which only dedupe refuses)');
  });

  test('a binary-mode event kept with data_base64 and an event holding U+0000: rejected alike', () => {
    const envelope = {
      specversion: '1.0',
      id: 'e1',
      source: 's',
      type: 'dyno.stopped',
      time: '2026-10-01T00:00:00Z',
      subject: 'd1',
      sequence: 2,
    };
    const batch = [
      { ...envelope, data_base64: 'AAE=' },
      { ...envelope, data: { app_id: 'a\u0000' } },
      { ...envelope, source: 'x\u0000', data: { app_id: 'a' } },
    ].map((value) => ({ bytes: Buffer.from(JSON.stringify(value)), receivedAtMs: NOW }));
    const judged = judge(batch, NOW);
    assert.deepStrictEqual(judged, judgeUncompiled(batch, NOW));
    assert.deepEqual(
      judged.invalid.map((i) => i.reasons.map((r) => `${r.field}:${r.code}`)),
      [['data:invalid_type'], ['data.app_id:store_refused'], ['source:store_refused']],
    );
  });

  test('a type nested 5,000 arrays deep is a rejection beside the valid event after it, never a throw (the consumer judges every batch)', () => {
    const valid = exampleLines('october.ndjson')[0]!;
    const type = (JSON.parse(valid) as { type: string }).type;
    const deep = valid.replace(`"${type}"`, `${'['.repeat(5_000)}"${type}"${']'.repeat(5_000)}`);
    const batch = [deep, valid].map((line) => ({ bytes: Buffer.from(line), receivedAtMs: Date.parse('2026-11-01T00:00:00Z') }));
    const judged = judge(batch, NOW);
    assert.deepStrictEqual(judged, judgeUncompiled(batch, NOW));
    assert.deepEqual(
      judged.invalid.map((i) => i.reasons.map((r) => `${r.field}:${r.code}:${r.message.slice(0, 29)}`)),
      [['type:unknown_type:an array is not an event type']],
    );
    assert.equal(judged.valid.length, 1);
  });
});
