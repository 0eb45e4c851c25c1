// Turns one message as received (raw JSON text, bytes, or an already-decoded
// JSON value) into a BillingEvent or the reasons it breaks the contract. Pure:
// the receiver's clock comes in as `opts.now`, so Kafka and HTTP paths, tests
// and replays all judge the same input the same way.
import type { z } from 'zod';
import { compiledBillingEvent } from './compiled-event.ts';
import { BillingEvent, CloudEventEnvelope, EVENT_TYPES, Timestamp, isEventType } from './events.ts';
import { REASON_CODES, type Reason, type ReasonCode } from './reasons.ts';
import { eventTimeMs } from './time.ts';

/** How far `time` may be ahead of the receiver's clock. */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/** The most one event may weigh as received (its JSON text in UTF-8): 64 KiB. */
export const MAX_EVENT_BYTES = 64 * 1024;

export type ParseResult = { ok: true; event: BillingEvent } | { ok: false; reasons: Reason[] };

export interface ParseOptions {
  /** The receiver's clock at arrival; used only for the 5-minute future rule. */
  now: Date | number;
}

/**
 * Validates one event against events-v1. A string is JSON text as received;
 * a Uint8Array is UTF-8 bytes as received; anything else is a decoded JSON value.
 *
 * The schema compiled by zod (compiled-event.ts) judges first; whatever it
 * refuses, and an event ahead of the clock, is judged again by the runtime
 * parser, whose issues become the reasons: the same answer as
 * {@link parseEventUncompiled} for every input, at a fraction of the cost.
 */
export function parseEvent(input: string | Uint8Array | unknown, opts: ParseOptions): ParseResult {
  const nowMs = clockOf(opts);
  const decoded = received(input);
  if (!decoded.ok) return decoded;
  const event = compiledBillingEvent(decoded.value);
  if (event !== undefined && !aheadOfClock(event.time, nowMs)) return { ok: true, event };
  return judgeDecoded(decoded.value, nowMs);
}

/**
 * parseEvent by zod's runtime parser alone: the definition the compiled path
 * is held to (compiled-equivalence.test.ts) and measured against (bench:judge).
 */
export function parseEventUncompiled(input: string | Uint8Array | unknown, opts: ParseOptions): ParseResult {
  const nowMs = clockOf(opts);
  const decoded = received(input);
  if (!decoded.ok) return decoded;
  return judgeDecoded(decoded.value, nowMs);
}

function clockOf(opts: ParseOptions): number {
  const nowMs = typeof opts.now === 'number' ? opts.now : opts.now.getTime();
  if (!Number.isFinite(nowMs)) throw new TypeError('parseEvent: opts.now must be a valid Date or epoch milliseconds');
  return nowMs;
}

/** The decoded value of an input within the size limit, or why it is none. */
function received(input: unknown): Decoded {
  const size = receivedBytes(input);
  if (size !== undefined && size > MAX_EVENT_BYTES) return fail([tooLongReason(size)]);
  return decode(input);
}

/** Why an event of `size` bytes as received, over MAX_EVENT_BYTES, is refused (also said by a reader that never held all of it). */
export function tooLongReason(size: number): Reason {
  return { field: '', code: 'too_long', message: `the event is ${size} bytes, more than the ${MAX_EVENT_BYTES} (64 KiB) one event may be` };
}

/** The runtime parser's judgement of a decoded value: the event, or every reason it breaks the contract. */
function judgeDecoded(value: unknown, nowMs: number): ParseResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail([{ field: '', code: 'not_object', message: 'must be a JSON object' }]);
  }
  const { type, time } = value as { type?: unknown; time?: unknown };

  const reasons: Reason[] = [];
  let event: BillingEvent | undefined;
  if (isEventType(type)) {
    const result = BillingEvent.safeParse(value);
    if (result.success) event = result.data;
    else reasons.push(...result.error.issues.map((issue) => toReason(issue, value)));
  } else {
    // The union would only say "no matching discriminator"; the bare envelope
    // reports `type` once, plus every other envelope fault.
    const result = CloudEventEnvelope.safeParse(value);
    if (!result.success) reasons.push(...result.error.issues.map((issue) => toReason(issue, value)));
  }

  const future = futureReason(time, nowMs);
  if (future) reasons.push(future);

  if (event && reasons.length === 0) return { ok: true, event };
  return fail(sortByEnvelopeOrder(reasons));
}

/** The UTF-8 size of an event as received (text or bytes); undefined for an already-decoded value. */
function receivedBytes(input: unknown): number | undefined {
  if (input instanceof Uint8Array) return input.byteLength;
  if (typeof input !== 'string') return undefined;
  // At most 3 bytes a UTF-16 unit: a short string cannot be too big, and is not encoded to find out.
  return input.length * 3 <= MAX_EVENT_BYTES ? input.length : new TextEncoder().encode(input).byteLength;
}

type Decoded = { ok: true; value: unknown } | { ok: false; reasons: Reason[] };

// ignoreBOM keeps a byte-order mark in the text, so JSON.parse rejects it as it
// would the same text given as a string: both paths judge alike.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decode(input: unknown): Decoded {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) return { ok: true, value: input };
  try {
    const text = typeof input === 'string' ? input : utf8.decode(input);
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return fail([{ field: '', code: 'not_json', message: `not JSON: ${(err as Error).message}` }]);
  }
}

function fail(reasons: Reason[]): { ok: false; reasons: Reason[] } {
  return { ok: false, reasons };
}

/** The 5-minute rule, for a `time` the schema accepts: one definition for both paths. */
function aheadOfClock(time: string, nowMs: number): boolean {
  return eventTimeMs({ time }) - nowMs > MAX_FUTURE_SKEW_MS;
}

function futureReason(time: unknown, nowMs: number): Reason | undefined {
  if (!Timestamp.safeParse(time).success) return undefined; // a bad format is reported by the schema
  if (!aheadOfClock(time as string, nowMs)) return undefined;
  return {
    field: 'time',
    code: 'time_in_future',
    message: `more than 5 minutes ahead of the receiver's clock (${new Date(nowMs).toISOString()})`,
  };
}

function toReason(issue: z.core.$ZodIssue, root: object): Reason {
  const field = issue.path.join('.');
  const found = lookup(root, issue.path);
  const missing = !found.present;
  switch (issue.code) {
    case 'invalid_type':
      if (missing) return { field, code: 'required', message: 'required' };
      return { field, code: 'invalid_type', message: `must be ${describeType(issue.expected)}` };
    case 'invalid_value':
      if (missing) return { field, code: 'required', message: 'required' };
      if (field === 'type') {
        return {
          field,
          code: 'unknown_type',
          message: `${preview(found.value)} is not an event type; must be one of ${EVENT_TYPES.join(', ')}`,
        };
      }
      return { field, code: 'invalid_value', message: `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}` };
    case 'too_small':
      return issue.origin === 'string'
        ? { field, code: 'too_short', message: `must be at least ${issue.minimum} characters` }
        : { field, code: 'too_small', message: `must be at least ${issue.minimum}` };
    case 'too_big':
      return issue.origin === 'string'
        ? { field, code: 'too_long', message: `must be at most ${issue.maximum} characters` }
        : { field, code: 'too_large', message: `must be at most ${issue.maximum}` };
    case 'invalid_format':
      return { field, code: 'invalid_format', message: issue.message };
    case 'custom':
      return { field, code: customCode(issue.params), message: issue.message };
    default:
      // Not reachable with the v1 schemas; kept total so a new zod issue still names its field.
      return { field, code: 'invalid_value', message: issue.message };
  }
}

function customCode(params: Record<string, unknown> | undefined): ReasonCode {
  const code = params?.['code'];
  return (REASON_CODES as readonly unknown[]).includes(code) ? (code as ReasonCode) : 'invalid_value';
}

/**
 * A short rendering of a received value for a message; never throws. Only a string is shown
 * (quoted, cut to 80 characters): an array or object is named, never walked, since rendering
 * one nested thousands deep (a few KiB of `[`) overflowed the stack twice over (JSON.stringify,
 * then String), and parseEvent threw where it must answer `unknown_type`.
 */
function preview(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value).slice(0, 80);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value).slice(0, 80);
}

function describeType(expected: string): string {
  if (expected === 'int') return 'an integer';
  if (expected === 'object') return 'a JSON object';
  return `a ${expected}`;
}

/** The value at a path of the decoded input; `present: false` tells "missing" from "wrong type". */
function lookup(root: object, path: readonly PropertyKey[]): { present: boolean; value?: unknown } {
  let node: unknown = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return { present: false };
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node === undefined ? { present: false } : { present: true, value: node };
}

const ENVELOPE_ORDER = ['', ...Object.keys(CloudEventEnvelope.shape)];

/** Reasons in envelope field order, so the same input always reads the same (sort is stable). */
function sortByEnvelopeOrder(reasons: Reason[]): Reason[] {
  const rank = (r: Reason) => ENVELOPE_ORDER.indexOf(r.field.split('.')[0] ?? '');
  return [...reasons].sort((a, b) => rank(a) - rank(b));
}
