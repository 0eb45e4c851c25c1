import { binaryToStructured, isBinaryMode, mediaType, readJson, type TextHeaders } from '../domain/cloudevents-binary.ts';
import { withoutUtf8Bom } from '../domain/byte-order-mark.ts';
import { ndjsonLines, type IntakeLine } from './intake.ts';

/** A body read into lines, or why it cannot be read at all (nothing of it is published). */
export type BodyReading =
  | { ok: true; lines: IntakeLine[] }
  | { ok: false; status: 400 | 413 | 415; error: string; limit_events?: number; headers?: Record<string, string> };

export const SUPPORTED_CONTENT_TYPES =
  'application/cloudevents+json (one event), application/cloudevents-batch+json (an array), ' +
  'application/json, application/x-ndjson or application/ndjson (an array or NDJSON), or binary mode (the attributes as ce- headers, ' +
  'the data as an application/json body)';

/**
 * The most events (array elements or NDJSON lines) one request may carry. Each is judged
 * synchronously, so this bounds the time the event loop is held (~0.3 s) and the answer's
 * size; it is twice `vault publish`'s chunk (5,000 lines), and 4 MiB of typical events.
 */
export const MAX_EVENTS_PER_REQUEST = 10_000;

const TOO_MANY: BodyReading = {
  ok: false,
  status: 413,
  error: `body holds more than ${MAX_EVENTS_PER_REQUEST.toLocaleString('en-US')} events (array elements or NDJSON lines), the most one request may carry: send the events in several requests`,
  limit_events: MAX_EVENTS_PER_REQUEST,
};

const NO_EVENTS: BodyReading = { ok: false, status: 400, error: 'body holds no events' };

const UTF16: BodyReading = {
  ok: false,
  status: 415,
  error: 'body is UTF-16 text (its byte order mark says so): events are UTF-8',
};

/** A UTF-16 byte order mark (FF FE or FE FF: never UTF-8), refused whole as `vault publish` refuses it. */
function startsUtf16(body: Buffer): boolean {
  return (body[0] === 0xff && body[1] === 0xfe) || (body[0] === 0xfe && body[1] === 0xff);
}

/** Types read as a JSON array or NDJSON: JSON's, and both names NDJSON goes by. */
const NDJSON_TYPES = new Set(['application/json', 'application/x-ndjson', 'application/ndjson']);

/**
 * `POST /v1/events`'s body, in every CloudEvents HTTP content mode, chosen as
 * the SDKs choose it: the content type first (structured, batched), then any
 * `ce-` header (binary), else an array or NDJSON. Missing content
 * type is read as JSON or NDJSON; an unknown one is a 415 naming these.
 */
export function readBody(headers: Record<string, string | string[] | undefined>, sent: Buffer): BodyReading {
  const text = textHeaders(headers);
  const encoded = encodingRefusal(text['content-encoding']);
  if (encoded) return encoded;
  if (startsUtf16(sent)) return UTF16;
  // An editor's or a Windows tool's BOM before an array made it NDJSON (`trimStart` drops U+FEFF,
  // JSON.parse keeps it), and the first line or the whole body was refused with an invisible character.
  const body = withoutUtf8Bom(sent);
  const media = mediaType(text['content-type']);
  if (media.type === 'application/cloudevents+json') return charsetRefusal(media.charset) ?? structured(body);
  if (media.type === 'application/cloudevents-batch+json') return charsetRefusal(media.charset) ?? batched(body);
  if (isBinaryMode(text, 'ce-')) {
    const badHeader = attributeHeaderRefusal(text);
    if (badHeader) return badHeader;
    const form = binaryToStructured(text, body, 'ce-');
    if (form.unreadable) return { ok: false, ...form.unreadable };
    return { ok: true, lines: [{ index: 0, bytes: form.bytes }] };
  }
  if (media.type === undefined || NDJSON_TYPES.has(media.type)) {
    return charsetRefusal(media.charset) ?? arrayOrNdjson(body);
  }
  return { ok: false, status: 415, error: `content-type ${media.type} is not one this route reads: send ${SUPPORTED_CONTENT_TYPES}` };
}

/**
 * The body is read as sent: compressed bytes would otherwise be published as junk lines.
 * RFC 9110 (15.5.16): a 415 for a content coding, with the codings accepted in Accept-Encoding.
 */
function encodingRefusal(contentEncoding: string | undefined): BodyReading | undefined {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return undefined;
  return {
    ok: false,
    status: 415,
    error: `Content-Encoding ${codings.join(', ')} is not one this route reads: send the body uncompressed (identity)`,
    headers: { 'accept-encoding': 'identity' },
  };
}

/**
 * The HTTP binding sends a `ce-` value's characters outside printable ASCII percent-encoded
 * (UTF-8). Node reads raw bytes as latin1 (`dyné` would become `dynÃ©`, an event other than
 * its structured copy), so such a value is refused, naming the header. A space is let through.
 */
function attributeHeaderRefusal(text: TextHeaders): BodyReading | undefined {
  for (const [name, value] of Object.entries(text)) {
    if (!name.startsWith('ce-') || value === undefined) continue;
    const at = value.search(/[^\x20-\x7e]/);
    if (at === -1) continue;
    const byte = value.charCodeAt(at).toString(16).padStart(2, '0');
    return {
      ok: false,
      status: 400,
      error:
        `header ${name} holds the byte 0x${byte} (at ${at}), outside printable ASCII: the CloudEvents HTTP binding ` +
        'sends such characters percent-encoded as UTF-8 (é as %C3%A9)',
    };
  }
  return needlessEscapeRefusal(text);
}

/** `%XX` of a printable ASCII character the binding never asks escaped (all but space, `"` and `%`). */
const NEEDLESS_ESCAPE = /%(?:2[13-46-9a-f]|[3-6][0-9a-f]|7[0-9a-e])/i;

/**
 * An escape the binding never needs (`%2F` for `/`) is ambiguous: an encoder that escapes
 * more than it must (the Python SDK's `quote(safe="")`) means `/`, and the binding asks it
 * decoded; a sender that does not encode (the `cloudevents` JS SDK) means the three
 * characters, as its structured copy says: `order%2F7` read as `order/7` was another
 * dedupe key, the one event accepted twice. Every event's `ce-time` holds `:`: escaped
 * (`%3A`), it shows an encoder of that kind, and the values are decoded; otherwise such an
 * escape is refused, naming the header, rather than read one way or the other.
 */
function needlessEscapeRefusal(text: TextHeaders): BodyReading | undefined {
  if (NEEDLESS_ESCAPE.test(text['ce-time'] ?? '')) return undefined;
  for (const [name, value] of Object.entries(text)) {
    if (!name.startsWith('ce-') || value === undefined) continue;
    const escaped = NEEDLESS_ESCAPE.exec(value)?.[0];
    if (escaped === undefined) continue;
    const char = String.fromCharCode(Number.parseInt(escaped.slice(1), 16));
    return {
      ok: false,
      status: 400,
      error:
        `header ${name} holds ${escaped} (${char} escaped), which the CloudEvents HTTP binding never needs, and ce-time's ":" is not ` +
        'escaped: from a sender that does not percent-encode (the cloudevents JS SDK) it is part of the value, from one that ' +
        `escapes more than it must it is ${char}: send this event structured (application/cloudevents+json), or escape ce-time's ":" as %3A too`,
    };
  }
  return undefined;
}

/** Structured mode: the whole body is one event, whatever its whitespace, kept as received. */
function structured(body: Buffer): BodyReading {
  const json = readJson(body);
  if (!json.ok) {
    if (body.toString('utf8').trim() === '') return NO_EVENTS;
    return { ok: false, status: 400, error: `body is not JSON (application/cloudevents+json is one event): ${json.error}` };
  }
  if (typeof json.value !== 'object' || json.value === null || Array.isArray(json.value)) {
    const batch = Array.isArray(json.value) ? '; an array of events is application/cloudevents-batch+json' : '';
    return { ok: false, status: 400, error: `body is not one event: application/cloudevents+json is a JSON object${batch}` };
  }
  return { ok: true, lines: [{ index: 0, bytes: trimmed(body) }] };
}

/** Batched mode: a JSON array, each element one event. */
function batched(body: Buffer): BodyReading {
  const reading = jsonArray(body, 'application/cloudevents-batch+json is an array of events');
  return !reading.ok && body.toString('utf8').trim() === '' ? NO_EVENTS : reading;
}

/**
 * A body that is one JSON array: its elements, read strictly as UTF-8 (a lenient decode
 * would turn bad bytes into U+FFFD, and two different ids into one, answered as accepted).
 */
function jsonArray(body: Buffer, notArray: string): BodyReading {
  const json = readJson(body);
  if (!json.ok) return { ok: false, status: 400, error: `body is not a JSON array: ${json.error}` };
  if (!Array.isArray(json.value)) return { ok: false, status: 400, error: `body is not a JSON array: ${notArray}` };
  return elements(body);
}

/**
 * A JSON array's elements, or NDJSON lines (blank lines skipped, but counted,
 * so `index + 1` is the line number). A body over several lines that is one
 * JSON object (a pretty-printed event) is that one event; one whose first line
 * is `{` alone (as pretty-printers write it, and no NDJSON event is) but that
 * is not JSON is a 400, not lines of junk. Any other body is NDJSON, its broken
 * lines refused alone.
 */
export function arrayOrNdjson(body: Buffer): BodyReading {
  const text = body.toString('utf8');
  const start = text.trimStart();
  if (start.startsWith('[')) return jsonArray(body, 'body must be a JSON array of events or NDJSON');
  const overLines = start.startsWith('{') && start.trimEnd().includes('\n');
  const whole = overLines ? readJson(body) : undefined;
  if (whole?.ok) return { ok: true, lines: [{ index: 0, bytes: trimmed(body) }] };
  if (whole && !whole.ok && start.slice(0, start.indexOf('\n')).trim() === '{') {
    return {
      ok: false,
      status: 400,
      error: `body is not JSON: ${whole.error} (a JSON object over several lines is one event; NDJSON is one event a line)`,
    };
  }
  const { lines } = ndjsonLines(body, 0, MAX_EVENTS_PER_REQUEST);
  if (lines.length > MAX_EVENTS_PER_REQUEST) return TOO_MANY;
  return lines.length === 0 ? NO_EVENTS : { ok: true, lines };
}

/**
 * A JSON array's elements as the bytes they were sent as (a refused one is kept as received:
 * `1e400` stays `1e400`, not the `null` JSON.stringify would write). `body` is known to be
 * one valid JSON array.
 */
function elements(body: Buffer): BodyReading {
  const spans = elementSpans(body, MAX_EVENTS_PER_REQUEST);
  if (spans.length > MAX_EVENTS_PER_REQUEST) return TOO_MANY;
  // An empty array is a batch of no events, valid in a request (CloudEvents' JSON batch format): nothing to do, 202.
  return { ok: true, lines: spans.map((bytes, index) => ({ index, bytes })) };
}

/**
 * The top-level elements of a buffer holding one valid JSON array, each without the
 * whitespace around it: found byte by byte, following strings (and their escapes) and
 * nesting only to see where each element ends; it stops once it holds `max + 1`.
 */
function elementSpans(body: Buffer, max: number): Buffer[] {
  const spans: Buffer[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < body.length; i++) {
    const b = body[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (b === 0x5c) escaped = true;
      else if (b === 0x22) inString = false;
      continue;
    }
    if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (depth++ === 0) {
        start = i + 1;
        continue;
      }
    } else if (b === 0x5d || b === 0x7d) depth--;
    if (depth === 1 && b === 0x2c) {
      spans.push(trimmed(body.subarray(start, i)));
      if (spans.length > max) break;
      start = i + 1;
    } else if (depth === 0 && start !== -1) {
      const last = trimmed(body.subarray(start, i));
      if (last.length > 0) spans.push(last);
      break;
    }
  }
  return spans;
}

function charsetRefusal(charset: string | undefined): BodyReading | undefined {
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return undefined;
  return { ok: false, status: 415, error: `content-type charset ${charset}: events are UTF-8` };
}

/** Without the JSON whitespace around it (a trailing newline is no part of the event). */
function trimmed(body: Buffer): Buffer {
  let start = 0;
  let end = body.length;
  const space = (b: number | undefined) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
  while (start < end && space(body[start])) start++;
  while (end > start && space(body[end - 1])) end--;
  return Buffer.from(body.subarray(start, end));
}

/**
 * Fastify's headers (names already lower-case) as text. Node joins most repeated headers with
 * ", " and keeps the first of a few: a repeated `ce-` header or Content-Type is refused
 * before the body is read (request-head.ts); an array (set-cookie alone) is its first value.
 */
function textHeaders(headers: Record<string, string | string[] | undefined>): TextHeaders {
  const text: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) text[name] = first;
  }
  return text;
}
