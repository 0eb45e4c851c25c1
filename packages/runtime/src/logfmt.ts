/** A logfmt line: `key=value` pairs, values quoted only when they must be. */
export type LogValue = string | number | boolean | bigint | null | undefined | Date;
export type LogFields = Record<string, LogValue>;

// Control characters (\p{Cc}, NEL included) and U+2028/U+2029 never go out raw:
// a reader splitting on any line break must still see one line per event.
const BARE = /^[^\s="\\\p{Cc}\u2028\u2029]+$/u;
const UNESCAPED = /[\p{Cc}\u2028\u2029]/gu; // what JSON.stringify leaves raw: U+007F–U+009F, U+2028, U+2029

export function formatValue(value: LogValue): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  if (BARE.test(text)) return text;
  return JSON.stringify(text).replace(UNESCAPED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A key that could not be written bare has each offending character replaced by `_`. */
function formatKey(key: string): string {
  return BARE.test(key) ? key : key.replace(/[\s="\\\p{Cc}\u2028\u2029]/gu, '_') || '_';
}

export function logfmt(fields: LogFields): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${formatKey(key)}=${formatValue(value)}`);
  }
  return parts.join(' ');
}
