import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_PRICE_BOOK, loadPriceBook } from '../src/billing/price-book-file.ts';

describe('the price book', () => {
  test("the shipped default is the spec's price book, unchanged", () => {
    // test/fixtures/price-book.json: a byte copy of the platform's price-book.json.
    const spec = JSON.parse(readFileSync(new URL('../../../test/fixtures/price-book.json', import.meta.url), 'utf8'));
    assert.deepEqual(loadPriceBook(), spec);
    assert.deepEqual(JSON.parse(readFileSync(DEFAULT_PRICE_BOOK, 'utf8')), spec);
  });

  test('a bad file is refused with its path and the field at fault', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prices-'));
    const path = join(dir, 'prices.json');
    writeFileSync(path, JSON.stringify({ currency: 'USD', products: { 'dyno:basic': 7, 'web:x': '1.00' } }));
    assert.throws(
      () => loadPriceBook(path),
      (err: Error) => err.message.includes(path) && err.message.includes('products.dyno:basic') && err.message.includes('web:x'),
    );
    writeFileSync(path, '{');
    assert.throws(() => loadPriceBook(path), new RegExp(`price book ${path}: `));
  });
});
