// A price book's currency is the currency every amount is kept in: one that
// does not count in hundredths is refused (its totals could never be charged),
// and so is one the gateway publishes no minimum charge for unless
// GATEWAY_MINIMUM_CHARGE declares it (which totals are too small to send would
// be a guess), and a book in another currency than the
// one the database already bills in (a USD grant must never pay an EUR
// invoice). Real PostgreSQL; the check the app's boot and the CLI's finalize
// and credit commands run.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { loadBilledPriceBook, loadPriceBook, PriceBookError } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { billingDatabase } from './seed.ts';

const dir = mkdtempSync(join(tmpdir(), 'price-book-currency-'));
const book = (name: string, currency: string) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ currency, products: { 'dyno:basic': '7.00' } }));
  return path;
};

describe('the price book’s currency', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('a currency counted in whole units or thousandths (or ISK, charged in whole units) is refused, naming the field', () => {
    for (const currency of ['JPY', 'KWD', 'ISK']) {
      assert.throws(
        () => loadPriceBook(book(`${currency}.json`, currency)),
        (err: unknown) =>
          err instanceof PriceBookError && new RegExp(`currency: ${currency} does not count in hundredths`).test(err.message),
      );
    }
  });

  test('a currency the gateway publishes no minimum charge in is refused without GATEWAY_MINIMUM_CHARGE, naming it and the currency; with it, or with a published one, taken', () => {
    for (const currency of ['TRY', 'ZAR', 'ILS']) {
      assert.throws(
        () => loadPriceBook(book(`${currency}.json`, currency)),
        (err: unknown) => {
          assert.ok(err instanceof PriceBookError);
          assert.equal(err.variable, 'GATEWAY_MINIMUM_CHARGE');
          assert.match(
            err.message,
            new RegExp(
              `^required with the price book's currency ${currency} \\(.*\\): the gateway publishes no minimum charge in ${currency}`,
            ),
          );
          assert.match(err.message, /the gateway publishes one in AED, AUD, .*SEK, SGD, THB, USD\)$/);
          assert.doesNotMatch(err.message, /JPY/, 'not offered a currency it refuses for want of cents');
          return true;
        },
      );
      assert.equal(loadPriceBook(book(`${currency}.json`, currency), '25.00').currency, currency);
    }
    for (const currency of ['SEK', 'NOK', 'DKK', 'HKD', 'MXN', 'PLN', 'CZK', 'HUF', 'BRL', 'INR', 'THB']) {
      assert.equal(loadPriceBook(book(`${currency}.json`, currency)).currency, currency);
    }
  });

  test('an empty database takes any book; once it bills in USD, an EUR book is refused and USD is taken', async () => {
    const usd = book('usd.json', 'USD');
    const eur = book('eur.json', 'EUR');
    assert.equal((await loadBilledPriceBook(db.pool, eur)).currency, 'EUR', 'nothing billed yet');
    const billing = createBilling({ pool: db.pool, prices: loadPriceBook(usd), graceHours: 72 });
    await billing.grantCredit('acct-cur', { id: 'g-cur', amount: '10.00', reason: 'goodwill', new_account: true });
    await assert.rejects(loadBilledPriceBook(db.pool, eur), (err: unknown) => {
      assert.ok(err instanceof PriceBookError);
      assert.equal(err.variable, 'PRICE_BOOK');
      assert.match(err.message, /currency: EUR, but this database bills in USD/);
      return true;
    });
    assert.equal((await loadBilledPriceBook(db.pool, usd)).currency, 'USD');
  });
});
