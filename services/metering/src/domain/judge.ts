import { parseEvent, type BillingEvent, type Reason } from '@vault/contracts';
import { eventContent } from './content-hash.ts';
import { base64Data, readEvent } from './read-event.ts';
import { LONE_SURROGATES, unstorable } from './storable-text.ts';

/** One message as it came off the bus (or out of an HTTP body), untouched. */
export interface Received {
  bytes: Buffer;
  /** When it reached the bus, epoch ms: the receiver's clock for the 5-minute rule. */
  receivedAtMs: number;
  /** `topic/partition/offset`, so an operator can find it on the bus. */
  position?: string;
  /** Why it cannot be read as sent (a Kafka header that is not UTF-8, kafka-headers.ts): refused with these whatever `bytes` say. */
  unreadable?: Reason[];
}

export interface ValidInput {
  event: BillingEvent;
  contentHash: string;
  /** `data` as canonical JSON (sorted keys), what the store keeps as jsonb. */
  dataJson: string;
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
  /** A valid event the store refused: its content hash (keepRejections compares it with a live claim). */
  contentHash?: string | undefined;
}

export interface Judged {
  valid: ValidInput[];
  invalid: InvalidInput[];
}

/**
 * The receiver's clock for a message is its timestamp on the bus, but never
 * later than our own clock: a replay after a crash judges a message exactly
 * as the first pass did, and a fast clock cannot pass a future event. On a
 * Kafka topic with CreateTime the timestamp is the producer's own: it can only
 * make the rule stricter (a slow stamp), never looser, however far behind the
 * consumer is; metering sets its topic to LogAppendTime (topic-timestamps.ts).
 */
export function receiverClock(receivedAtMs: number, nowMs: number): number {
  return Number.isFinite(receivedAtMs) && receivedAtMs > 0 ? Math.min(receivedAtMs, nowMs) : nowMs;
}

/**
 * Splits messages into valid events (with their content hash) and rejections.
 * The hot path of metering: parseEvent's compiled validator, then one pass that
 * writes the canonical text and looks for U+0000 (judge-reference.ts is the
 * first, straightforward version it answers exactly like).
 */
export function judge(messages: Received[], nowMs: number): Judged {
  const judged: Judged = { valid: [], invalid: [] };
  for (const received of messages) {
    if (received.unreadable !== undefined) {
      judged.invalid.push(refused(received, received.unreadable));
      continue;
    }
    const parsed = readEvent(received.bytes, receiverClock(received.receivedAtMs, nowMs), parseEvent);
    if (!parsed.ok) {
      judged.invalid.push(refused(received, parsed.reasons));
      continue;
    }
    const content = eventContent(parsed.event);
    // No hash: a string holds what the store cannot hold, which unstorableField finds and names.
    if (content === undefined) judged.invalid.push(storeRefused(received, parsed.event, unstorableField(parsed.event)));
    else judged.valid.push({ event: parsed.event, contentHash: content.hash, dataJson: content.dataJson, received });
  }
  return judged;
}

/** A message the contract refuses, with what can be read off it to help an operator find it. */
export function refused(received: Received, reasons: Reason[]): InvalidInput {
  const { dataBase64, ...identity } = identify(received.bytes);
  return { received, reasons: dataBase64 ? reasons.map((r) => base64DataReason(r, dataBase64)) : reasons, ...identity };
}

/** A valid event whose `found.field` holds what the store cannot hold (storable-text.ts). */
export function storeRefused(received: Received, event: BillingEvent, found: Unstorable | undefined): InvalidInput {
  const reason: Reason = {
    field: clean(found?.field ?? ''),
    code: 'store_refused',
    message: found?.message ?? 'holds text the store cannot hold',
  };
  return { received, reasons: [reason], source: clean(event.source), eventId: clean(event.id), subject: clean(event.subject) };
}

export interface Unstorable {
  /** The dotted path of the string, or of the key, that holds it. */
  field: string;
  message: string;
}

/** The first string or key holding U+0000 or half a surrogate pair (storable-text.ts), by its dotted path. */
export function unstorableField(value: unknown, path = ''): Unstorable | undefined {
  if (typeof value === 'string') {
    const message = unstorable(value);
    return message === undefined ? undefined : { field: path, message };
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const at = path === '' ? k : `${path}.${k}`;
    const inKey = unstorable(k);
    if (inKey !== undefined) return { field: at, message: `its name ${inKey}` };
    const found = unstorableField(v, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Without U+0000 or half a surrogate pair (V8 quotes one in "Unexpected token"
 * messages), which PostgreSQL refuses: for the columns and reasons of a rejection.
 */
export function clean(s: string): string {
  return s.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATES, '\uFFFD');
}

/**
 * Data carried as `data_base64` that could not be read (read-event.ts; a
 * binary-mode body that was not JSON is kept so, cloudevents-binary.ts):
 * "data: required" would not say what is wrong with it.
 */
function base64DataReason(reason: Reason, error: string): Reason {
  if (reason.field !== 'data' || reason.code !== 'required') return reason;
  return { field: 'data', code: 'invalid_type', message: `must be a JSON object: ${error}` };
}

/**
 * `source`, `id` and `subject` of a message that is JSON but not a valid event,
 * if present, and why the `data_base64` it carries instead of `data` could not be read.
 */
export function identify(bytes: Buffer): { source?: string; eventId?: string; subject?: string; dataBase64?: string } {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof value !== 'object' || value === null) return {};
    const { source, id, subject } = value as Record<string, unknown>;
    const data = base64Data(value as Record<string, unknown>);
    return {
      ...(data?.ok === false ? { dataBase64: data.error } : {}),
      ...(typeof subject === 'string' ? { subject } : {}),
      ...(typeof source === 'string' ? { source: clean(source.slice(0, 256)) } : {}),
      ...(typeof id === 'string' ? { eventId: clean(id.slice(0, 128)) } : {}),
    };
  } catch {
    return {};
  }
}
