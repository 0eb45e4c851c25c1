// One message read as the same event whatever content mode carried it, before
// it is judged and hashed: data sent as bytes (`data_base64`, as the SDKs
// write a Buffer in structured mode) is read as the JSON the binary copy
// carries as `data`, and a JSON `datacontenttype`, the contract's default that
// binary mode leaves out, is dropped. The judge and its reference share it.
import { isJsonMediaType, MAX_EVENT_BYTES, type parseEvent, type BillingEvent, type ParseResult } from '@vault/contracts';
import { readJson } from './cloudevents-binary.ts';

/**
 * `parse` (parseEvent, or the reference's runtime parser) of a message, its
 * `data_base64` looked at only once `parse` refused it (it has no `data`
 * then). An event without `datacontenttype` (the common case) pays a property
 * check; one with it (a JSON type, the only kind accepted) is copied without it.
 */
export function readEvent(bytes: Buffer, now: number, parse: typeof parseEvent): ParseResult {
  let parsed = parse(bytes, { now });
  if (!parsed.ok) {
    const inlined = withBase64Data(bytes);
    if (inlined !== undefined) parsed = parse(inlined, { now });
  }
  if (!parsed.ok || parsed.event.datacontenttype === undefined) return parsed;
  const { datacontenttype: _json, ...event } = parsed.event;
  return { ok: true, event: event as BillingEvent };
}

/** The message with the JSON its `data_base64` holds as `data`, when it has such a member. */
function withBase64Data(bytes: Buffer): Record<string, unknown> | undefined {
  // Refused for its size already: decoding must not get around that.
  if (bytes.length > MAX_EVENT_BYTES) return undefined;
  const json = readJson(bytes);
  if (!json.ok || !isRecord(json.value)) return undefined;
  const data = base64Data(json.value);
  return data?.ok ? { ...json.value, data: data.value } : undefined;
}

/**
 * What the `data_base64` of a message without `data` holds, read strictly
 * (its own canonical base64, then UTF-8, then JSON) when its
 * `datacontenttype` is JSON or absent; else why it cannot be read, as the end
 * of a reason's message. Undefined when there is no such member: a message
 * with `data` is judged by it (`data_base64` then an unknown member, ignored).
 */
export function base64Data(message: Record<string, unknown>): { ok: true; value: unknown } | { ok: false; error: string } | undefined {
  const { data, data_base64: encoded, datacontenttype } = message;
  if (data !== undefined || typeof encoded !== 'string') return undefined;
  if (datacontenttype !== undefined && !isJsonMediaType(datacontenttype)) {
    return { ok: false, error: 'the data sent is not JSON by its datacontenttype (kept here as data_base64)' };
  }
  const decoded = Buffer.from(encoded, 'base64');
  // Node's decoder skips what is not base64: only text that is its own encoding is read.
  if (decoded.toString('base64') !== encoded) return { ok: false, error: 'data_base64 is not base64 (RFC 4648, padded)' };
  const json = readJson(decoded);
  return json.ok ? json : { ok: false, error: `the data sent was not JSON (${json.error}; kept here as data_base64)` };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
