import type { IHeaders } from 'kafkajs';

/**
 * Kafka record headers as text: each value decoded as UTF-8, the first of a
 * repeated name, names without a value left out.
 */
export function textHeaders(headers: IHeaders): Record<string, string> {
  const text: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) text[name] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return text;
}
