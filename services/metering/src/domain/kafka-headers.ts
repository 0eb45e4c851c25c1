// A Kafka message's value as the judge reads it, from its headers as the bus
// decodes them (strictly): a `ce_` header or `content-type` whose value is not
// UTF-8 cannot be read, so the message is refused naming it, and kept whole.
import type { Reason } from '@vault/contracts';
import { withoutUtf8Bom } from './byte-order-mark.ts';
import { binaryToStructured, isBinaryMode, mediaType, structuredValue, type TextHeaders } from './cloudevents-binary.ts';

/** Where a kept rejection holds the bytes of the headers that are not UTF-8: header name → base64. */
export const UNREADABLE_HEADERS = 'unreadable_headers_base64';

export interface KafkaValue {
  /** What the judge reads and a rejection keeps. */
  bytes: Buffer;
  /** Set when a header metering reads is not UTF-8: the message is refused with these, whatever `bytes` say. */
  unreadable?: Reason[];
}

const EMPTY = Buffer.alloc(0);

/**
 * The value as the judge reads it (`structuredValue`), unless a header it reads
 * (`ce_…`, `content-type`) is not UTF-8. Such a message is kept as the
 * structured form of what can be read, with the unreadable headers' bytes in
 * `unreadable_headers_base64` (never replaced by U+FFFD: `café` and `cafè` in
 * latin-1 are two rejections, not one event and a duplicate). A header without
 * a value (null) is absent, as the bus hands it on.
 */
export function kafkaValue(
  sent: Buffer,
  headers: TextHeaders | undefined,
  nonText: Readonly<Record<string, Buffer | null>> | undefined,
): KafkaValue {
  // One leading byte order mark is dropped, as the HTTP door drops it: the same event, not not_json.
  const value = withoutUtf8Bom(sent);
  // Nearly every message has no header the bus could not make text: the hot path stays one check.
  const unreadable = nonText === undefined ? [] : unreadableHeaders(nonText);
  if (unreadable.length === 0) return { bytes: structuredValue(value, headers) };
  const text = Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  // The value is the event's data only when the message says so readably (binary mode, not the
  // structured content type); otherwise its bytes are kept as they are.
  const isData =
    isBinaryMode(text, 'ce_') &&
    !unreadable.some(([name]) => name === 'content-type') &&
    !(mediaType(text['content-type']).type ?? '').startsWith('application/cloudevents');
  const form = JSON.parse(binaryToStructured(text, isData ? value : EMPTY, 'ce_').bytes.toString('utf8')) as Record<string, unknown>;
  if (!isData && sent.length > 0) form.data_base64 = sent.toString('base64');
  const kept: Record<string, string> = {};
  // A header of that very name (no publisher means one) is kept in it too, not overwritten.
  const own = form[UNREADABLE_HEADERS];
  if (typeof own === 'string') kept[`ce_${UNREADABLE_HEADERS}`] = Buffer.from(own).toString('base64');
  for (const [name, bytes] of unreadable) kept[name] = bytes.toString('base64');
  form[UNREADABLE_HEADERS] = kept;
  return { bytes: Buffer.from(JSON.stringify(form)), unreadable: unreadable.map(([name]) => notUtf8(name)) };
}

/** The headers metering reads (names lower-cased, as `structuredValue` reads them) whose value is not UTF-8. */
function unreadableHeaders(nonText: Readonly<Record<string, Buffer | null>>): [string, Buffer][] {
  const found: [string, Buffer][] = [];
  for (const [raw, bytes] of Object.entries(nonText)) {
    const name = raw.toLowerCase();
    if (bytes !== null && (name.startsWith('ce_') || name === 'content-type')) found.push([name, bytes]);
  }
  return found;
}

function notUtf8(name: string): Reason {
  return {
    field: name === 'content-type' ? 'datacontenttype' : name.slice('ce_'.length),
    code: 'invalid_type',
    message: `must be UTF-8 text: the Kafka header ${name} was not (its bytes kept here in ${UNREADABLE_HEADERS}, base64)`,
  };
}
