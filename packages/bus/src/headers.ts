import { isUtf8 } from 'node:buffer';
import type { IHeaders } from 'kafkajs';

/** A header's first value as kafkajs decodes it: null when sent without a value (Java and librdkafka clients send these). */
type Value = Buffer | string | null | undefined;

function firstValue(value: IHeaders[string] | null): Value {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The value as text; undefined when it is not UTF-8. Strict: a lenient decode turns
 * bytes that are not UTF-8 into U+FFFD, so two different values read as one (the
 * CloudEvents Kafka binding requires header values in UTF-8). A leading U+FEFF is kept.
 */
function decoded(value: Buffer | string): string | undefined {
  if (!Buffer.isBuffer(value)) return value;
  return isUtf8(value) ? value.toString('utf8') : undefined;
}

/**
 * Kafka record headers as text: the first value of a repeated name, decoded
 * strictly as UTF-8. A header without a value (null) is absent, and so is one
 * whose value is not UTF-8: `nonTextHeaders` has both, never replaced.
 */
export function textHeaders(headers: IHeaders): Record<string, string> {
  const text: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const first = firstValue(value);
    if (first === undefined || first === null) continue;
    const t = decoded(first);
    if (t !== undefined) text[name] = t;
  }
  return text;
}

/**
 * The headers `textHeaders` leaves out, as sent: null for one without a value,
 * the bytes of one that is not UTF-8. Undefined when there are none (the usual case).
 */
export function nonTextHeaders(headers: IHeaders): Record<string, Buffer | null> | undefined {
  let other: Record<string, Buffer | null> | undefined;
  for (const [name, value] of Object.entries(headers)) {
    const first = firstValue(value);
    if (first === undefined) continue;
    if (first === null) (other ??= {})[name] = null;
    else if (Buffer.isBuffer(first) && !isUtf8(first)) (other ??= {})[name] = first;
  }
  return other;
}
