// RFC 4180 CSV for finance's exports, with a guard against formula injection.
// Pure: no I/O.

/**
 * How a column's values are written. `text` comes from people or other systems
 * (ids, keys, descriptions) and is guarded against formula injection; `value`
 * is a number, a count or a timestamp that the database formats itself, written
 * as is, so a credit stays `-3.61` and sums to the cent in any spreadsheet.
 */
export type FieldKind = 'text' | 'value';

/** RFC 4180: a field holding a comma, a double quote, CR or LF is quoted. */
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * A text field a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, TAB,
 * CR first: OWASP's CSV injection list) gets a leading `'`. So does one that
 * already starts with `'`, which makes the rule reversible: a reader drops one
 * leading `'` from any text field that has one (`unguardText`).
 */
const GUARDED_START = /^[=+\-@\t\r']/;

/** Records end with CRLF (RFC 4180). Line breaks inside a quoted field are kept as they are. */
const CSV_EOL = '\r\n';

export function csvField(value: string | null, kind: FieldKind): string {
  if (value === null || value === '') return '';
  const safe = kind === 'text' && GUARDED_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One record, CRLF included. */
export function csvRecord(values: readonly (string | null)[], kinds: readonly FieldKind[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += ',';
    line += csvField(values[i] ?? null, kinds[i] ?? 'text');
  }
  return line + CSV_EOL;
}

/** The original text of a guarded text field. */
export function unguardText(field: string): string {
  return field.startsWith("'") ? field.slice(1) : field;
}

/**
 * Parses RFC 4180 CSV (the reading side of `csvRecord`, for tests and tools):
 * records of raw fields, quotes removed, guards kept.
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += c;
      }
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
    } else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else if (c === '"' || c === '\r' || c === '\n') {
      throw new SyntaxError(`CSV: unexpected ${JSON.stringify(c)} outside quotes at offset ${i}`);
    } else {
      field += c;
    }
    i++;
  }
  if (quoted) throw new SyntaxError('CSV: unterminated quoted field');
  if (field !== '' || record.length > 0) throw new SyntaxError('CSV: the last record does not end with CRLF');
  return records;
}
