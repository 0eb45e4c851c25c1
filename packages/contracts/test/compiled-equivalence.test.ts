// The hot path's validator (zod's compiled BillingEvent) against zod's runtime
// parser, and parseEvent (compiled first) against parseEventUncompiled: never
// one accepting what the other refuses, the same parsed value, the same
// reasons, over the property corpus and the spec's examples.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compiledBillingEvent, compiledBillingEventParser } from '../src/compiled-event.ts';
import { BillingEvent, EVENT_TYPES, parseEvent, parseEventUncompiled } from '../src/index.ts';
import { FUTURE_LIMIT_MS, JSON_MEDIA_TYPES, rfc3339, validEvent } from './arbitraries.ts';
import { corpusInput } from './corpus.ts';
import { examplesDir, NOW, validEvent as fixedEvent } from './fixtures.ts';

/** Receiver clocks from 2000 to 2090. */
const nowArb = fc.integer({ min: Date.UTC(2000, 0), max: Date.UTC(2090, 0) });

/** The value as it reaches the hot path: decoded from its JSON text (when it has one). */
function viaJson(value: unknown): unknown[] {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return [];
  }
  return text === undefined ? [] : [JSON.parse(text)];
}

function assertSameVerdict(value: unknown): void {
  const runtime = BillingEvent.safeParse(value);
  const compiled = compiledBillingEvent(value);
  assert.equal(
    compiled !== undefined,
    runtime.success,
    `compiled ${compiled ? 'accepts' : 'refuses'}, zod ${runtime.success ? 'accepts' : 'refuses'}`,
  );
  if (compiled === undefined || !runtime.success) return;
  assert.deepStrictEqual(compiled, runtime.data);
  assert.equal(JSON.stringify(compiled), JSON.stringify(runtime.data), 'the same keys in the same order');
  assert.notEqual(compiled, value, 'a fresh object, as zod builds');
}

/** An event whose time is within 2 s of the 5-minute limit, either side. */
const nearTheLimit = nowArb.chain((nowMs) =>
  fc
    .tuple(fc.constantFrom(...EVENT_TYPES), fc.integer({ min: -2000, max: 2000 }), fc.integer({ min: -600, max: 600 }))
    .chain(([type, delta, offset]) =>
      validEvent(type, { nowMs }).map((event) => ({ nowMs, input: { ...event, time: rfc3339(nowMs + FUTURE_LIMIT_MS + delta, offset) } })),
    ),
);

function lines(name: string): string[] {
  return readFileSync(join(examplesDir, name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

describe('the compiled validator against zod’s runtime parser', () => {
  test('zod compiles the BillingEvent schema: the hot path runs generated code, not the runtime parser', () => {
    assert.equal(typeof compiledBillingEventParser, 'function');
  });

  test('property corpus: the compiled validator accepts exactly what BillingEvent.safeParse accepts, with the same parsed value', () => {
    fc.assert(
      fc.property(
        nowArb.chain((nowMs) => corpusInput(nowMs)),
        (value) => {
          assertSameVerdict(value);
          for (const decoded of viaJson(value)) assertSameVerdict(decoded);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('datacontenttype: JSON in any case with charset=utf-8 or none accepted, every near miss refused, by both alike', () => {
    const refused = [
      'application/json;',
      'application/json ',
      'application/json; charset=utf8',
      'application/json; charset = utf-8',
      'text/json',
      7,
    ];
    for (const type of [...JSON_MEDIA_TYPES, ...refused]) {
      const event = fixedEvent('dyno.started', { datacontenttype: type });
      assertSameVerdict(event);
      assert.equal(compiledBillingEvent(event) !== undefined, JSON_MEDIA_TYPES.includes(type as string), JSON.stringify(type));
    }
  });
});

describe('parseEvent (compiled first) against parseEventUncompiled', () => {
  const assertSameAnswer = (input: unknown, nowMs: number) =>
    assert.deepStrictEqual(parseEvent(input, { now: nowMs }), parseEventUncompiled(input, { now: nowMs }));

  test('property corpus: the same verdict, event and reasons, whether given as value, JSON text or UTF-8 bytes', () => {
    fc.assert(
      fc.property(
        nowArb.chain((nowMs) => fc.tuple(fc.constant(nowMs), corpusInput(nowMs))),
        ([nowMs, value]) => {
          assertSameAnswer(value, nowMs);
          let text: string | undefined;
          try {
            text = JSON.stringify(value);
          } catch {
            return; // a value without JSON text (a bigint) has no text or bytes to send
          }
          if (text === undefined) return;
          assertSameAnswer(text, nowMs);
          assertSameAnswer(new TextEncoder().encode(text), nowMs);
        },
      ),
      { numRuns: 600 },
    );
  });

  test('times within 2 seconds of the 5-minute limit: refused and accepted alike', () => {
    fc.assert(
      fc.property(nearTheLimit, ({ nowMs, input }) => assertSameAnswer(input, nowMs)),
      { numRuns: 500 },
    );
  });

  test('the spec’s examples (october.ndjson, invalid.ndjson): judged alike, line by line', () => {
    for (const line of [...lines('october.ndjson'), ...lines('invalid.ndjson')]) {
      assertSameAnswer(line, NOW.getTime());
      assertSameAnswer(Buffer.from(line), NOW.getTime());
    }
  });
});
