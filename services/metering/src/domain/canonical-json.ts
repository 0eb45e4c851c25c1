// The text a content hash is taken of, in one pass: JSON with object keys
// sorted by UTF-16 code units and undefined members left out, byte for byte
// what the first implementation (sorted keys, JSON.stringify of each leaf)
// wrote for any value, since stored hashes are compared with new ones.
// A parsed event's key order comes from the schema (one sorted plan per event
// type), so the hot path neither lists nor sorts keys, and notes U+0000 as it
// quotes strings instead of walking the event a second time.
import { z } from 'zod';
import { BillingEvent } from '@vault/contracts';

/** The canonical text of any value, as the content hash has always read it. */
export function canonicalJson(value: unknown): string {
  return write(value) as string;
}

/**
 * The canonical text of a parsed event, or undefined when one of its strings
 * holds U+0000 (PostgreSQL's text and jsonb refuse it, so it is rejected).
 */
export function eventCanonicalJson(event: BillingEvent): string | undefined {
  return eventCanonical(event)?.text;
}

/** The canonical text of a parsed event and of its `data` alone (what the store keeps as jsonb). */
export interface EventCanonical {
  text: string;
  data: string;
}

/**
 * eventCanonicalJson, and the canonical text of the event's `data`, written in
 * the same pass: the store takes it as the data's JSON instead of a second
 * JSON.stringify (jsonb keeps no key order, so the sorted one reads the same).
 */
export function eventCanonical(event: BillingEvent): EventCanonical | undefined {
  sawNul = false;
  topData = undefined;
  const plan = PLANS.get(event.type);
  let text = plan === undefined ? undefined : writePlanned(event, plan, true);
  if (text === undefined) {
    sawNul = false;
    text = writeObject(event);
    topData = undefined;
  }
  if (sawNul) return undefined;
  return { text, data: topData ?? (write(event.data) as string) };
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

// Set by `quote` when a string holds U+0000; module state rather than a result
// object per call, which the hot path would allocate for every event.
let sawNul = false;
// The text of the event's own `data`, set by writePlanned at the top level.
let topData: string | undefined;

/** The planned keys of `record` in order, or undefined when it has a key the plan lacks. */
function writePlanned(record: Record<string, unknown>, plan: Plan, top = false): string | undefined {
  let out = '{';
  let own = 0;
  for (let i = 0; i < plan.keys.length; i++) {
    const key = plan.keys[i]!;
    const member = record[key];
    if (member === undefined) {
      if (Object.hasOwn(record, key)) own++;
      continue;
    }
    own++;
    const nested = plan.nested[i];
    let text: string | undefined;
    if (nested !== undefined && isRecord(member)) {
      const before = sawNul;
      text = writePlanned(member, nested);
      if (text === undefined) {
        sawNul = before;
        text = writeObject(member);
      }
    } else {
      text = write(member);
    }
    if (top && key === 'data') topData = text;
    out += `${out.length === 1 ? '' : ','}${plan.heads[i]}${text}`;
  }
  return own === ownKeys(record) ? `${out}}` : undefined;
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

/** Undefined where JSON.stringify gives undefined (a function, a symbol, undefined), as it did before. */
function write(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? writeArray(value) : writeObject(value as Record<string, unknown>);
    default:
      return JSON.stringify(value);
  }
}

function writeArray(values: readonly unknown[]): string {
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    // Array#join wrote an element without JSON (a hole, undefined, a function) as nothing.
    out += `${i === 0 ? '' : ','}${write(values[i]) ?? ''}`;
  }
  return `${out}]`;
}

function writeObject(record: Record<string, unknown>): string {
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
  let out = '{';
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    // A member without JSON (a function) reads `undefined`, as the template literal wrote it before.
    out += `${out.length === 1 ? '' : ','}${quote(key)}:${write(member)}`;
  }
  return `${out}}`;
}

/** What JSON.stringify escapes: `"`, `\`, control characters and (lone) surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  if (s.includes('\u0000')) sawNul = true;
  return JSON.stringify(s);
}
