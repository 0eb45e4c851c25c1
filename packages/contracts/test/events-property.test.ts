// Properties of parseEvent over generated input (fast-check): every valid
// event of the six types parses, whatever its offsets, precision, key order
// and unknown fields; every mutation that breaks one rule is rejected with a
// reason naming the broken field; and no input at all makes it throw.
// parse-edge-cases.test.ts holds the hand-picked boundary cases.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BillingEvent,
  CloudEventEnvelope,
  EVENT_TYPES,
  formatReasons,
  parseEvent,
  Reason,
  REASON_CODES,
  type ParseResult,
} from '../src/index.ts';
import { anyValidEvent, known, mutatedEvent, mutationFor, validEvent, type Event, type Mutation } from './arbitraries.ts';

/** Receiver clocks from 2000 to 2090. */
const nowArb = fc.integer({ min: Date.UTC(2000, 0), max: Date.UTC(2090, 0) });
const NUM_RUNS = 200;

const utf8 = (s: string) => new TextEncoder().encode(s);
const describeResult = (r: ParseResult) => (r.ok ? 'accepted' : formatReasons(r.reasons));

const ENVELOPE_ORDER = ['', ...Object.keys(CloudEventEnvelope.shape)];

/** What every answer must look like: a BillingEvent, or well-formed reasons in envelope order. */
function assertWellFormed(result: ParseResult): void {
  if (result.ok) {
    assert.ok(BillingEvent.safeParse(result.event).success, 'an accepted event is a BillingEvent');
    return;
  }
  assert.ok(result.reasons.length > 0, 'a rejection has at least one reason');
  for (const reason of result.reasons) {
    assert.ok(Reason.safeParse(reason).success, `reason ${JSON.stringify(reason)} is well-formed`);
    assert.ok((REASON_CODES as readonly string[]).includes(reason.code));
    assert.notEqual(reason.message.trim(), '', 'the message says something');
  }
  const ranks = result.reasons.map((r) => ENVELOPE_ORDER.indexOf(r.field.split('.')[0] ?? ''));
  assert.deepEqual(
    ranks,
    [...ranks].sort((a, b) => a - b),
    'reasons come in envelope order',
  );
}

/** The mutation's field is named by a reason, and by the human line an operator reads. */
function assertNames(result: ParseResult, m: Pick<Mutation, 'field' | 'what'>): void {
  assert.equal(result.ok, false, `${m.what}: must be rejected`);
  if (result.ok) return;
  assert.ok(
    result.reasons.some((r) => r.field === m.field),
    `${m.what}: a reason must name ${m.field || 'the whole message'}; got ${formatReasons(result.reasons)}`,
  );
  if (m.field !== '') assert.ok(formatReasons(result.reasons).includes(`${m.field}: `));
}

describe('parseEvent accepts every valid event (property)', () => {
  test('each of the six types, any offset and precision, any key order, unknown fields: accepted, and only the known fields kept', () => {
    fc.assert(
      fc.property(
        nowArb.chain((nowMs) => fc.tuple(fc.constant(nowMs), anyValidEvent({ nowMs }))),
        ([nowMs, input]) => {
          const result = parseEvent(input, { now: nowMs });
          assert.ok(result.ok, describeResult(result));
          assert.deepEqual({ ...result.event }, known(input));
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  for (const type of EVENT_TYPES) {
    test(`${type}: the decoded value, its JSON text and its UTF-8 bytes are judged alike`, () => {
      fc.assert(
        fc.property(
          nowArb.chain((nowMs) => fc.tuple(fc.constant(nowMs), validEvent(type, { nowMs }))),
          ([nowMs, input]) => {
            const text = JSON.stringify(input);
            const asValue = parseEvent(input, { now: nowMs });
            assert.ok(asValue.ok, describeResult(asValue));
            assert.deepEqual(parseEvent(text, { now: nowMs }), asValue);
            assert.deepEqual(parseEvent(utf8(text), { now: nowMs }), asValue);
          },
        ),
        { numRuns: 50 },
      );
    });
  }
});

describe('parseEvent rejects every mutation of a valid event, naming the field (property)', () => {
  test('one broken rule: rejected, a reason names the field, and the answer is well-formed', () => {
    fc.assert(
      fc.property(
        nowArb.chain((nowMs) => fc.tuple(fc.constant(nowMs), mutatedEvent({ nowMs }))),
        ([nowMs, { mutation, value }]) => {
          const result = parseEvent(value, { now: nowMs });
          assertNames(result, mutation);
          assertWellFormed(result);
          // The text a publisher would send is judged the same as the value.
          assert.deepEqual(parseEvent(JSON.stringify(value), { now: nowMs }), result);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('two broken rules on different fields: both fields are named, not only the first', () => {
    const twoFaults = nowArb.chain((nowMs) =>
      fc.constantFrom(...EVENT_TYPES).chain((type) =>
        fc
          .tuple(
            validEvent(type, { nowMs }),
            mutationFor(type, { nowMs, composable: true }),
            mutationFor(type, { nowMs, composable: true }),
          )
          .filter(([, a, b]) => a.field.split('.')[0] !== b.field.split('.')[0])
          .map(([event, a, b]) => ({ nowMs, a, b, value: b.apply(a.apply(event)) })),
      ),
    );
    fc.assert(
      fc.property(twoFaults, ({ nowMs, a, b, value }) => {
        const result = parseEvent(value, { now: nowMs });
        assertNames(result, a);
        assertNames(result, b);
        assertWellFormed(result);
      }),
      { numRuns: 200 },
    );
  });

  test('the 5-minute rule follows the given now: exactly the times more than 5 minutes ahead are refused', () => {
    const started = (time: string): Event => ({
      specversion: '1.0',
      id: 'e',
      source: 's',
      type: 'dyno.started',
      time,
      subject: 'd',
      sequence: 1,
      data: { app_id: 'a', name: 'web.1', size: 'standard-1x' },
    });
    fc.assert(
      fc.property(nowArb, fc.integer({ min: -10 * 60_000, max: 10 * 60_000 }), (nowMs, aheadMs) => {
        const time = new Date(nowMs + aheadMs).toISOString();
        const result = parseEvent(started(time), { now: nowMs });
        if (aheadMs <= 5 * 60_000) assert.ok(result.ok, `${aheadMs} ms ahead: ${describeResult(result)}`);
        else assertNames(result, { field: 'time', what: `${aheadMs} ms ahead` });
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('parseEvent is total: any input gets an answer, never an exception (property)', () => {
  const total = (input: unknown) => {
    let result: ParseResult | undefined;
    assert.doesNotThrow(() => (result = parseEvent(input, { now: Date.UTC(2026, 10, 1) })));
    assertWellFormed(result!);
    return result!;
  };

  test('any JavaScript value (objects, arrays, numbers, undefined, nested junk)', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withSparseArray: true }), (v) => void total(v)),
      { numRuns: 1000 },
    );
  });

  test('any JSON text, and any JSON value: an object or not, it is judged; a non-object is not_object on the whole message', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const result = total(JSON.stringify(v));
        // A string argument is JSON text by design, so only other values can be compared decoded.
        if (typeof v !== 'string') assert.deepEqual(total(v), result);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) assertNames(result, { field: '', what: 'a non-object' });
      }),
      { numRuns: 1000 },
    );
  });

  test('any string and any bytes: text that is not JSON is not_json on the whole message', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string()), (s) => {
        const result = total(s);
        let json = true;
        try {
          JSON.parse(s);
        } catch {
          json = false;
        }
        if (!json) assert.deepEqual(result.ok ? [] : result.reasons.map((r) => [r.field, r.code]), [['', 'not_json']]);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => void total(bytes)),
      { numRuns: 1000 },
    );
  });

  test('a valid event cut short, or with random bytes spliced in: judged, never thrown', () => {
    const damaged = nowArb.chain((nowMs) =>
      fc.tuple(anyValidEvent({ nowMs }), fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 4 })).map(([event, at, cut, noise]) => {
        const bytes = utf8(JSON.stringify(event));
        const i = at % (bytes.length + 1);
        const j = Math.min(bytes.length, i + (cut % 8));
        return new Uint8Array([...bytes.subarray(0, i), ...noise, ...bytes.subarray(j)]);
      }),
    );
    fc.assert(
      fc.property(damaged, (bytes) => void total(bytes)),
      { numRuns: 500 },
    );
  });
});
