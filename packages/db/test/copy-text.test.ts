// CopyText writes exactly the bytes of COPY's text format that escaping each
// value and encoding the joined rows as UTF-8 gives, for any text (escapes,
// control characters, characters beyond U+FFFF, lone surrogates), nulls and
// numbers; the real round trip through PostgreSQL is invoicing's
// invoice-store-copy.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CopyText } from '../src/index.ts';

type Value = string | number | null;

/** The format as the reference states it: \N for null, backslash, tab, newline and return escaped. */
function reference(rows: readonly (readonly Value[])[]): Buffer {
  const escaped = (v: string) => v.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
  const field = (v: Value) => (v === null ? '\\N' : typeof v === 'number' ? String(v) : escaped(v));
  return Buffer.from(rows.map((r) => `${r.map(field).join('\t')}\n`).join(''), 'utf8');
}

function written(rows: readonly (readonly Value[])[], initialBytes?: number): Buffer {
  const w = new CopyText(initialBytes);
  for (const row of rows) {
    for (const v of row) {
      if (v === null) w.nullValue();
      else if (typeof v === 'number') w.number(v);
      else w.text(v);
    }
    w.endRow();
  }
  assert.equal(w.rows, rows.length);
  return Buffer.from(w.bytes());
}

const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('a', '\\', '\t', '\n', '\r', 'N', '.', 'é', '𝔘', '\ud800', '\udc00', '\u0001', '\u007f') }),
);
const value = fc.oneof(text, fc.constant(null), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const rows = fc.array(fc.array(value, { minLength: 1, maxLength: 6 }), { maxLength: 20 });

describe('CopyText', () => {
  test('writes what escaping each value and encoding the rows as UTF-8 gives, for any text, nulls and numbers', () => {
    fc.assert(
      fc.property(rows, fc.integer({ min: 1, max: 64 }), (rs, initial) => {
        assert.deepEqual(written(rs, initial), reference(rs));
      }),
      { numRuns: 500 },
    );
  });

  test('a backslash, a tab, a newline, a return, \\N and a character beyond U+FFFF, byte for byte', () => {
    const w = new CopyText(4).text('a\\b\tc\nd\re \\N 𝔘').text(null).number(-12.5).endRow();
    assert.equal(w.bytes().toString('utf8'), 'a\\\\b\\tc\\nd\\re \\\\N 𝔘\t\\N\t-12.5\n');
  });

  test('refuses what is not a row: a number that is not finite, bytes before the row ends', () => {
    assert.throws(() => new CopyText().number(Number.NaN), /NaN is not a finite number/);
    assert.throws(() => new CopyText().text('x').bytes(), /the last row is not ended/);
  });
});
