// The text a content hash is taken of, in one pass: JSON with object keys
// sorted by UTF-16 code units and undefined members left out, byte for byte
// what the first implementation (sorted keys, JSON.stringify of each leaf)
// wrote for any value, since stored hashes are compared with new ones.
// A parsed event's key order comes from the schema (one sorted plan per event
// type), so the hot path neither lists nor sorts keys, and notes U+0000 (and
// half a surrogate pair) as it quotes strings instead of walking the event a second time. The text is
// written as UTF-8 into one buffer the module keeps, and hashed from there.
import { z } from 'zod';
import { BillingEvent } from '@vault/contracts';
import { unstorable } from './storable-text.ts';

/** The canonical text of any value, as the content hash has always read it. */
export function canonicalJson(value: unknown): string {
  return writing(writeValue, value);
}

function writeValue(value: unknown): string {
  at = 0;
  return (write(value) ? text(0, at) : undefined) as string;
}

/**
 * The canonical text of a parsed event, or undefined when one of its strings
 * holds U+0000 or half a surrogate pair (the store cannot hold them as they
 * are, storable-text.ts, so it is rejected).
 * For the tests and tools: the judge hashes the bytes (eventCanonicalBytes).
 */
export function eventCanonicalJson(event: BillingEvent): string | undefined {
  return eventCanonicalBytes(event)?.bytes.toString('utf8');
}

/**
 * The canonical text of a parsed event as UTF-8 (a view of this module's
 * buffer, valid until the next call: hash it at once) and the canonical text
 * of its `data`, written in one pass into one buffer: the hot path allocates
 * only the data's string, where building the text from strings allocated
 * about 1.4 KB an event (the largest share of metering's young garbage).
 * Undefined when a string holds U+0000 or half a surrogate pair. (`data` is '' for an event whose
 * `data` has no JSON, which no parsed event is.)
 */
export function eventCanonicalBytes(event: BillingEvent): { bytes: Buffer; data: string } | undefined {
  return writing(writeEvent, event);
}

function writeEvent(event: BillingEvent): { bytes: Buffer; data: string } | undefined {
  begin();
  const plan = PLANS.get(event.type);
  if (plan === undefined || !writePlanned(event, plan, true)) {
    // A key the plan lacks: written again, keys listed and sorted.
    begin();
    writeObject(event);
  }
  if (sawUnstorable) return undefined;
  const end = at;
  let data: string;
  if (dataFrom >= 0) data = text(dataFrom, dataTo);
  else {
    // `data` written after the text, so the text's bytes stay as they are.
    write(event.data);
    data = text(end, at);
  }
  return { bytes: out.subarray(0, end), data };
}

/** Keys of an object the schema shapes, sorted, each with its quoted head and its own plan if it is an object. */
interface Plan {
  keys: readonly string[];
  heads: readonly string[];
  nested: readonly (Plan | undefined)[];
}

function planOf(shape: Record<string, z.ZodType>): Plan {
  const keys = Object.keys(shape).sort();
  return {
    keys,
    heads: keys.map((key) => `${JSON.stringify(key)}:`),
    nested: keys.map((key) => {
      let field = shape[key];
      while (field instanceof z.ZodOptional) field = field.unwrap() as z.ZodType;
      return field instanceof z.ZodObject ? planOf(field.shape) : undefined;
    }),
  };
}

const PLANS = new Map<string, Plan>(BillingEvent.options.map((option) => [option.shape.type.value, planOf(option.shape)]));

// The writer's state, module-wide rather than an object per call (the hot path
// would allocate one for every event); writing is synchronous, so calls only
// nest (`writing`). `out` grows when a text needs it and is kept.
let out = Buffer.allocUnsafe(16 * 1024);
let at = 0;
// Set by `quote` when a string holds what the store cannot hold (storable-text.ts).
let sawUnstorable = false;
// Where the event's own `data` was written at the top level, when it was.
let dataFrom = -1;
let dataTo = -1;

const text = (from: number, to: number) => out.toString('utf8', from, to);

/** An event's write starts on an empty buffer, with nothing unstorable seen and no `data` placed. */
function begin(): void {
  at = 0;
  sawUnstorable = false;
  dataFrom = -1;
}

let busy = false;
/**
 * Runs a write on the module's state; one started while another is under way
 * (a getter of the value being written that writes a value itself) gets a
 * buffer of its own, and the outer write's state is put back after it.
 */
function writing<A, T>(write: (arg: A) => T, arg: A): T {
  if (!busy) {
    busy = true;
    try {
      return write(arg);
    } finally {
      busy = false;
    }
  }
  const outer = { out, at, sawUnstorable, dataFrom, dataTo };
  out = Buffer.allocUnsafe(1024);
  try {
    return write(arg);
  } finally {
    ({ out, at, sawUnstorable, dataFrom, dataTo } = outer);
  }
}

/**
 * The planned keys of `record` in order; false (with whatever it wrote) when
 * it has a key the plan lacks.
 */
function writePlanned(record: Record<string, unknown>, plan: Plan, top = false): boolean {
  byte(0x7b);
  let own = 0;
  let first = true;
  for (let i = 0; i < plan.keys.length; i++) {
    const key = plan.keys[i]!;
    const member = record[key];
    if (member === undefined) {
      if (Object.hasOwn(record, key)) own++;
      continue;
    }
    own++;
    if (!first) byte(0x2c);
    first = false;
    ascii(plan.heads[i]!);
    const from = at;
    const nested = plan.nested[i];
    if (nested !== undefined && isRecord(member)) {
      const before = sawUnstorable;
      if (!writePlanned(member, nested)) {
        sawUnstorable = before;
        at = from;
        writeObject(member);
      }
    } else if (!write(member)) ascii('undefined');
    if (top && key === 'data') {
      dataFrom = from;
      dataTo = at;
    }
  }
  byte(0x7d);
  return own === ownKeys(record);
}

/** Object.keys(record).length without the array: a record parsed from JSON has no inherited enumerable key. */
function ownKeys(record: Record<string, unknown>): number {
  let n = 0;
  for (const key in record) if (Object.hasOwn(record, key)) n++;
  return n;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** False, writing nothing, where JSON.stringify gives undefined (a function, a symbol, undefined), as before. */
function write(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
      quote(value);
      return true;
    case 'number':
      ascii(Number.isFinite(value) ? String(value) : 'null');
      return true;
    case 'object':
      if (value === null) ascii('null');
      else if (Array.isArray(value)) writeArray(value);
      else writeObject(value as Record<string, unknown>);
      return true;
    default: {
      const json = JSON.stringify(value);
      if (json === undefined) return false;
      utf8(json);
      return true;
    }
  }
}

function writeArray(values: readonly unknown[]): void {
  byte(0x5b);
  for (let i = 0; i < values.length; i++) {
    if (i > 0) byte(0x2c);
    // Array#join wrote an element without JSON (a hole, undefined, a function) as nothing.
    write(values[i]);
  }
  byte(0x5d);
}

function writeObject(record: Record<string, unknown>): void {
  const keys = Object.keys(record);
  // Insertion sort: objects here have a handful of keys, where it beats Array#sort's
  // comparator calls; `<` on strings compares UTF-16 code units, as the default sort does.
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  byte(0x7b);
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    if (!first) byte(0x2c);
    first = false;
    quote(key);
    byte(0x3a);
    // A member without JSON (a function) reads `undefined`, as the template literal wrote it before.
    if (!write(member)) ascii('undefined');
  }
  byte(0x7d);
}

/**
 * A string as JSON.stringify quotes it: written straight through as UTF-8
 * while nothing in it needs a look (`"`, `\`, a control character, a
 * surrogate), else the whole string through JSON.stringify, which escapes
 * what it must and leaves a paired surrogate as it is.
 */
function quote(s: string): void {
  const n = s.length;
  ensure(n * 3 + 2);
  const b = out;
  let o = at;
  b[o++] = 0x22;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80 && c >= 0x20 && c !== 0x22 && c !== 0x5c) b[o++] = c;
    else if (c >= 0x80 && c < 0x800) {
      b[o++] = 0xc0 | (c >> 6);
      b[o++] = 0x80 | (c & 0x3f);
    } else if (c >= 0x800 && (c < 0xd800 || c > 0xdfff)) {
      b[o++] = 0xe0 | (c >> 12);
      b[o++] = 0x80 | ((c >> 6) & 0x3f);
      b[o++] = 0x80 | (c & 0x3f);
    } else {
      // What JSON.stringify escapes, or a surrogate: through it (at is still the string's start).
      quoteEscaped(s);
      return;
    }
  }
  b[o++] = 0x22;
  at = o;
}

function quoteEscaped(s: string): void {
  if (unstorable(s) !== undefined) sawUnstorable = true;
  utf8(JSON.stringify(s));
}

/** Any text as UTF-8 (a surrogate pair as one code point; half a pair, never written here, as U+FFFD). */
function utf8(s: string): void {
  ensure(s.length * 3);
  at += out.write(s, at, 'utf8');
}

/** Text known to be ASCII: a key's head, a number, a literal. */
function ascii(s: string): void {
  const n = s.length;
  ensure(n);
  const b = out;
  let o = at;
  for (let i = 0; i < n; i++) b[o++] = s.charCodeAt(i);
  at = o;
}

function byte(c: number): void {
  ensure(1);
  out[at++] = c;
}

function ensure(bytes: number): void {
  if (at + bytes <= out.length) return;
  const grown = Buffer.allocUnsafe(Math.max(out.length * 2, at + bytes));
  out.copy(grown, 0, 0, at);
  out = grown;
}
