// RFC 4180 CSV for finance's exports, with a guard against formula injection.
// Pure: no I/O.

/**
 * How a column's values are written. `text` comes from people or other systems
 * (ids, keys, descriptions) and is guarded against formula injection; `value`
 * is a number, a count or a timestamp that the database formats itself, written
 * as is, so a credit stays `-3.61` and sums to the cent in any spreadsheet.
 */
export type FieldKind = 'text' | 'value';

/**
 * RFC 4180: a field holding a comma, a double quote, CR or LF is quoted. So is
 * a text field holding `;` or TAB: a spreadsheet whose list separator is one
 * of them (`;` in de/fr/es/it/nl/pt-BR/ru locales) keeps it one cell when it
 * honours quotes. Quoting alone is not the guard (one that splits on `;`
 * ignores quotes in mid-line): `guardText` is.
 */
const NEEDS_QUOTES = /[",\r\n]/;
const TEXT_NEEDS_QUOTES = /[",;\t\r\n]/;

/**
 * Where a spreadsheet may start a cell inside a text field: after any list
 * separator it might split on (`,` `;` TAB) or a line break (CR, LF).
 */
const CELL_BREAKS = new Set([',', ';', '\t', '\r', '\n']);

/**
 * What a spreadsheet runs as a formula when a cell starts with it (`=`, `+`,
 * `-`, `@`, TAB, CR: OWASP's CSV injection list), after any spaces. `'` too,
 * which makes the guard reversible (`unguardText`).
 */
const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r', "'"]);

/** Whether the cell starting at `i` begins, after any spaces, with a FORMULA_START. */
function startsFormula(value: string, i: number): boolean {
  while (value[i] === ' ') i++;
  return i < value.length && FORMULA_START.has(value[i]!);
}

/**
 * The guard of a text field: at every cell start (the field's start, and
 * right after each of `,` `;` TAB CR LF), a cell that would begin, after any
 * spaces, with `=` `+` `-` `@` TAB CR or `'` gets a `'` inserted there, so no
 * cell a spreadsheet makes of the field is a formula, whatever it splits on
 * (`web;=cmd|' /C calc'!A0;` is written `web;'=cmd|' /C calc'!A0;`). The
 * reverse (`unguardText`): drop a `'` found at any cell start. Any `'` there
 * was put by the guard: an original one at a cell start is guarded too.
 */
export function guardText(value: string): string {
  let out = '';
  let cellStart = true;
  for (let i = 0; i < value.length; i++) {
    if (cellStart && startsFormula(value, i)) out += "'";
    const c = value[i]!;
    out += c;
    cellStart = CELL_BREAKS.has(c);
  }
  return out;
}

/** Records end with CRLF (RFC 4180). Line breaks inside a quoted field are kept as they are. */
const CSV_EOL = '\r\n';

export function csvField(value: string | null, kind: FieldKind): string {
  if (value === null || value === '') return '';
  const safe = kind === 'text' ? guardText(value) : value;
  return (kind === 'text' ? TEXT_NEEDS_QUOTES : NEEDS_QUOTES).test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
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

/** The original text of a guarded text field (the reverse of `guardText`): a `'` at any cell start is dropped. */
export function unguardText(field: string): string {
  let out = '';
  let cellStart = true;
  for (const c of field) {
    if (!(cellStart && c === "'")) out += c;
    cellStart = cellStart && c === "'" ? false : CELL_BREAKS.has(c);
  }
  return out;
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
