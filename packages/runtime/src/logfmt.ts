/** A logfmt line: `key=value` pairs, values quoted only when they must be. */
export type LogValue = string | number | boolean | bigint | null | undefined | Date;
export type LogFields = Record<string, LogValue>;

const BARE = /^[^\s="\\]+$/;

export function formatValue(value: LogValue): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return BARE.test(text) ? text : JSON.stringify(text);
}

export function logfmt(fields: LogFields): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(' ');
}
