/**
 * A PostgreSQL array literal of text values, for a `$n::text[]` parameter (or
 * any array whose elements read from text): every element quoted, `"` and `\`
 * escaped. node-pg's own serialisation runs two regular expressions over every
 * element and joins through intermediate strings: about 2 µs an event on
 * metering's hot path, a tenth of its CPU.
 */
export function arrayLiteral(values: readonly (string | number)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const s = typeof v === 'string' ? v : String(v);
    if (i > 0) out += ',';
    out += s.indexOf('"') < 0 && s.indexOf('\\') < 0 ? `"${s}"` : `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  }
  return `${out}}`;
}
