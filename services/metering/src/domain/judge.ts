import { parseEvent, type BillingEvent, type Reason } from '@vault/contracts';
import { contentHash } from './content-hash.ts';

/** One message as it came off the bus (or out of an HTTP body), untouched. */
export interface Received {
  bytes: Buffer;
  /** When it reached the bus, epoch ms: the receiver's clock for the 5-minute rule. */
  receivedAtMs: number;
  /** `topic/partition/offset`, so an operator can find it on the bus. */
  position?: string;
}

export interface ValidInput {
  event: BillingEvent;
  contentHash: string;
  /** Kept in case it must be rejected after all (an id reused with other content). */
  received: Received;
}

export interface InvalidInput {
  received: Received;
  reasons: Reason[];
  /** Read off the message when it has them, to help an operator find it. */
  source?: string | undefined;
  eventId?: string | undefined;
  /** The message's `subject` when it names one: its bus key. */
  subject?: string | undefined;
}

export interface Judged {
  valid: ValidInput[];
  invalid: InvalidInput[];
}

/**
 * The receiver's clock for a message is when it reached the bus, but never
 * later than our own clock: a replay after a crash judges a message exactly
 * as the first pass did, and a publisher's fast clock cannot pass a future event.
 */
export function receiverClock(receivedAtMs: number, nowMs: number): number {
  return Number.isFinite(receivedAtMs) && receivedAtMs > 0 ? Math.min(receivedAtMs, nowMs) : nowMs;
}

/** Splits messages into valid events (with their content hash) and rejections. */
export function judge(messages: Received[], nowMs: number): Judged {
  const judged: Judged = { valid: [], invalid: [] };
  for (const received of messages) {
    const parsed = parseEvent(received.bytes, { now: receiverClock(received.receivedAtMs, nowMs) });
    const nul = parsed.ok ? nulField(parsed.event) : undefined;
    if (parsed.ok && nul !== undefined) {
      const reason: Reason = { field: nul, code: 'store_refused', message: 'contains U+0000, which the store cannot hold' };
      const { source, id, subject } = parsed.event;
      judged.invalid.push({ received, reasons: [reason], source: clean(source), eventId: clean(id), subject });
    } else if (parsed.ok) {
      judged.valid.push({ event: parsed.event, contentHash: contentHash(parsed.event), received });
    } else {
      judged.invalid.push({ received, reasons: parsed.reasons, ...identify(received.bytes) });
    }
  }
  return judged;
}

/** The dotted path of the first string holding U+0000 (PostgreSQL text and jsonb refuse it). */
function nulField(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return path === '' ? k : `${path}.${k}`;
    const found = nulField(v, path === '' ? k : `${path}.${k}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Without U+0000 or half a surrogate pair (V8 quotes one in "Unexpected token"
 * messages), which PostgreSQL refuses: for the columns and reasons of a rejection.
 */
export function clean(s: string): string {
  return s.replaceAll('\u0000', '\uFFFD').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** `source`, `id` and `subject` of a message that is JSON but not a valid event, if present. */
export function identify(bytes: Buffer): { source?: string; eventId?: string; subject?: string } {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof value !== 'object' || value === null) return {};
    const { source, id, subject } = value as Record<string, unknown>;
    return {
      ...(typeof subject === 'string' ? { subject } : {}),
      ...(typeof source === 'string' ? { source: clean(source.slice(0, 256)) } : {}),
      ...(typeof id === 'string' ? { eventId: clean(id.slice(0, 128)) } : {}),
    };
  } catch {
    return {};
  }
}
