/**
 * Compares account ids as PostgreSQL's "C" collation orders them (UTF-8
 * bytes, so code points), which finalize's cursors are sorted by. JavaScript's
 * `<` compares UTF-16 code units instead: it puts a character above U+FFFF
 * (a surrogate pair) before U+E000–U+FFFF; the rank below undoes that.
 */
export function compareAccounts(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

const rank = (unit: number) => (unit >= 0xd800 && unit <= 0xdfff ? unit + 0x2000 : unit >= 0xe000 ? unit - 0x800 : unit);
