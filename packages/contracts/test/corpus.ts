// The property-based corpus as one arbitrary, for the tests that hold a fast
// path to the one it replaces (parseEvent's compiled validator, metering's
// judge): valid events of every type, events with one or two broken rules,
// near misses (one field, top-level or in `data`, replaced by any value or
// dropped), and values that are no event at all.
import fc from 'fast-check';
import { EVENT_TYPES } from '../src/index.ts';
import { anyValidEvent, DATA_KEYS, mutatedEvent, mutationFor, validEvent, type Event, type ValidOptions } from './arbitraries.ts';

const ENVELOPE_KEYS = ['specversion', 'id', 'source', 'type', 'time', 'subject', 'sequence', 'datacontenttype', 'data'];

/** Any value, JSON or not (undefined, NaN, -0, Infinity, sparse arrays, …), now and then. */
const anyValue = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 3 },
  { arbitrary: fc.anything({ maxDepth: 2, withSparseArray: true }), weight: 1 },
  { arbitrary: fc.constantFrom(undefined, Number.NaN, -0, Number.POSITIVE_INFINITY, 1.5, 0, 2 ** 53, '', '1.0'), weight: 1 },
);

/** A valid event with one field (or one of its `data`) replaced by any value, or dropped. */
function nearMiss(o: ValidOptions): fc.Arbitrary<unknown> {
  return fc.constantFrom(...EVENT_TYPES).chain((type) =>
    fc
      .tuple(
        validEvent(type, o),
        fc.constantFrom(...ENVELOPE_KEYS, ...DATA_KEYS[type].map((k) => `data.${k}`)),
        fc.option(anyValue, { freq: 4 }),
      )
      .map(([event, path, value]) => {
        const [head, tail] = path.split('.') as [string, string | undefined];
        const target: Event = tail === undefined ? { ...event } : { ...(event[head] as Event) };
        const key = tail ?? head;
        if (value === null) delete target[key];
        else target[key] = value;
        return tail === undefined ? target : { ...event, [head]: target };
      }),
  );
}

/**
 * A valid event whose `datacontenttype` is written every way near JSON's,
 * accepted or not: the media type's pattern, on the compiled path and zod's.
 */
function nearJsonMediaType(o: ValidOptions): fc.Arbitrary<unknown> {
  const type = fc.constantFrom('application/json', 'APPLICATION/Json', 'application/jsonp', 'text/json', 'application/cloudevents+json');
  const separator = fc.constantFrom('', ';', ' ;', ';\t', '\t; ', ' ;  ');
  const parameter = fc.constantFrom('', 'charset=utf-8', 'Charset=UTF-8', 'charset="utf-8"', 'charset=utf8', 'charset = utf-8', 'q=1');
  const end = fc.constantFrom('', '', ' ', ';', '; charset=utf-8');
  return fc
    .tuple(anyValidEvent(o), type, separator, parameter, end)
    .map(([event, t, sep, param, e]) => ({ ...event, datacontenttype: `${t}${sep}${param}${e}` }));
}

/** Two rules broken at once (the composable mutations: neither changes `type`). */
function twoFaults(nowMs: number, o: ValidOptions): fc.Arbitrary<unknown> {
  return fc
    .constantFrom(...EVENT_TYPES)
    .chain((type) =>
      fc
        .tuple(validEvent(type, o), mutationFor(type, { nowMs, composable: true }), mutationFor(type, { nowMs, composable: true }))
        // Dropping `data` and then changing a field in it does not compose.
        .filter(([, a, b]) => a.field.split('.')[0] !== b.field.split('.')[0]),
    )
    .map(([event, a, b]) => b.apply(a.apply(event)));
}

/**
 * One input of the corpus judged at `nowMs`. `storable: false` lets U+0000
 * into generated text, which the contract allows (metering refuses to store it).
 */
export function corpusInput(nowMs: number, storable = false): fc.Arbitrary<unknown> {
  const o: ValidOptions = { nowMs, storable };
  return fc.oneof(
    { arbitrary: anyValidEvent(o), weight: 4 },
    { arbitrary: mutatedEvent(o).map((m) => m.value), weight: 4 },
    { arbitrary: twoFaults(nowMs, o), weight: 1 },
    { arbitrary: nearMiss(o), weight: 3 },
    { arbitrary: nearJsonMediaType(o), weight: 1 },
    { arbitrary: anyValue, weight: 1 },
  );
}
