// CloudEvents binary content mode (the attributes as `ce-` HTTP headers or
// `ce_` Kafka headers, `data` as the body or value) turned into the structured
// JSON form the judge reads, the bus carries and a rejection keeps: so a
// binary event is judged, deduplicated and re-submitted like any other.
import { isJsonMediaType } from '@vault/contracts';

/** Header names lower-cased, values as text (HTTP) or UTF-8 (Kafka). */
export type TextHeaders = Readonly<Record<string, string | undefined>>;

export type BinaryPrefix = 'ce-' | 'ce_';

export interface StructuredForm {
  /** The event as structured-mode JSON (UTF-8), what goes on the bus. */
  bytes: Buffer;
  /**
   * Why `data` could not be read as JSON (it is then kept as `data_base64`):
   * HTTP answers it as a 400/415; on Kafka the judge rejects and keeps the event.
   */
  unreadable?: { status: 400 | 415; error: string };
}

/** A CloudEvents Integer in its canonical string form (RFC 7159's int). */
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/**
 * True when the headers carry a binary-mode event: a `ce-`/`ce_` `specversion`
 * or `id` under a content type other than `application/cloudevents…`
 * (structured or batched). Not only `specversion` (the SDKs look for `id`): an
 * event without it is still read from its headers, and the judge then names
 * `specversion` alone instead of every attribute, and keeps them for an
 * operator's fix. Not any `ce-` header: a tracing one (`ce-traceparent`) on a
 * plain JSON body or message leaves it what it is.
 */
export function isBinaryMode(headers: TextHeaders, prefix: BinaryPrefix): boolean {
  if ((mediaType(headers['content-type']).type ?? '').startsWith('application/cloudevents')) return false;
  return headers[`${prefix}specversion`] !== undefined || headers[`${prefix}id`] !== undefined;
}

/**
 * The structured JSON of a binary-mode event. Every `ce-`/`ce_` header is an
 * attribute of that name (HTTP values percent-decoded, as the HTTP binding
 * asks). Header values are strings, but the contract's `sequence` is an
 * integer: a header in canonical integer form (`7`, not `07` or `7.0`) becomes
 * the number, anything else stays a string that the judge refuses naming
 * `sequence`. `content-type` is `datacontenttype`: `application/json` (a
 * non-UTF-8 charset is a 415) or none means `data` is the body's JSON. One the
 * contract takes (JSON_MEDIA_TYPE) is left out as its default, so a binary
 * event and its structured copy have the same content; one with another
 * parameter is kept for the judge to refuse, as it is structured. Another
 * type keeps the body as `data_base64`.
 */
export function binaryToStructured(headers: TextHeaders, body: Buffer, prefix: BinaryPrefix): StructuredForm {
  const event: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined || !name.startsWith(prefix) || name.length === prefix.length) continue;
    const attribute = name.slice(prefix.length);
    if (attribute === 'data' || attribute === 'data_base64') continue;
    const value = prefix === 'ce-' ? percentDecode(raw) : raw;
    event[attribute] = attribute === 'sequence' && INTEGER.test(value) ? Number(value) : value;
  }
  delete event.datacontenttype;
  const media = mediaType(headers['content-type']);
  let unreadable: StructuredForm['unreadable'];
  if (media.type !== undefined && media.type !== 'application/json') {
    event.datacontenttype = headers['content-type'];
    unreadable = {
      status: 415,
      error: `content-type ${media.type}: in binary mode the body is the event's data, which must be application/json`,
    };
  } else if (media.charset !== undefined && media.charset !== 'utf-8' && media.charset !== 'utf8') {
    event.datacontenttype = headers['content-type'];
    unreadable = { status: 415, error: `content-type charset ${media.charset}: events are UTF-8` };
  } else if (body.length > 0) {
    // Another parameter (`profile=x`, `charset=utf8`) is kept, so the judge refuses it as it refuses
    // the same `datacontenttype` sent structured: one event, one verdict in every mode.
    if (media.type !== undefined && !isJsonMediaType(headers['content-type'])) event.datacontenttype = headers['content-type'];
    const data = readJson(body);
    if (data.ok) event.data = data.value;
    else unreadable = { status: 400, error: `body is not JSON (in binary mode the body is the event's data): ${data.error}` };
  }
  if (unreadable && body.length > 0) event.data_base64 = body.toString('base64');
  const bytes = structuredBytes(event);
  if (bytes !== undefined) return { bytes, ...(unreadable ? { unreadable } : {}) };
  // Data nested thousands deep (a few KiB of `[`): JSON.stringify overflows the stack. Kept as bytes
  // never read, like a body that is not JSON: a 400 at the door, a rejection from Kafka, never a throw
  // (a 500, or a message handed back for ever, stalling its partition).
  delete event.data;
  event.data_base64 = body.toString('base64');
  return {
    bytes: Buffer.from(JSON.stringify(event)),
    unreadable: { status: 400, error: 'body nests too deep to be read (in binary mode the body is the event’s data)' },
  };
}

/** The structured event's JSON, or undefined when its data nests too deep to be written. */
function structuredBytes(event: Record<string, unknown>): Buffer | undefined {
  try {
    return Buffer.from(JSON.stringify(event));
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

/**
 * A Kafka message's value as the judge reads it: a binary-mode message (a
 * `ce_` header, no `application/cloudevents…` content type) in its
 * structured form, anything else untouched.
 */
export function structuredValue(value: Buffer, kafkaHeaders: TextHeaders | undefined): Buffer {
  // Most messages carry no headers: the hot path stays one check.
  if (kafkaHeaders === undefined || Object.keys(kafkaHeaders).length === 0) return value;
  // Kafka header names are case-sensitive; the binding writes them in lower case.
  const headers = Object.fromEntries(Object.entries(kafkaHeaders).map(([k, v]) => [k.toLowerCase(), v]));
  if (!isBinaryMode(headers, 'ce_')) return value;
  return binaryToStructured(headers, value, 'ce_').bytes;
}

/** The media type (lower-cased, without parameters) and charset of a content-type header. */
export function mediaType(contentType: string | undefined): { type?: string; charset?: string } {
  if (contentType === undefined || contentType.trim() === '') return {};
  const [type, ...params] = contentType.split(';');
  const charset = params
    .map((p) => p.trim().split('='))
    .find(([k]) => k?.trim().toLowerCase() === 'charset')?.[1]
    ?.trim()
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
  return { type: type!.trim().toLowerCase(), ...(charset !== undefined ? { charset } : {}) };
}

/** JSON from strict UTF-8 bytes, or why not. */
export function readJson(bytes: Buffer): { ok: true; value: unknown } | { ok: false; error: string } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { ok: false, error: 'not UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** `%XX` runs decoded as UTF-8; a run that is not valid UTF-8 is left as sent. */
function percentDecode(value: string): string {
  return value.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
