// A line's amount is the monthly price times min(months, 1), exact, rounded
// once, half up, to cents (docs/contracts/invoicing.md, Rating). Checked against
// integer arithmetic: in cents, amount = price × ms / month ms, so half up is
// floor((2 × price × ms + month ms) / (2 × month ms)), no decimal library.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { priceLine } from '../src/domain/lines.ts';
import { priceShare, toCents, usageAmount } from '../src/domain/money.ts';
import { parsePeriod } from '../src/domain/period.ts';

const MONTHS = ['2026-10', '2026-11', '2028-02', '2027-02'].map(parsePeriod);

/** The exact half-up cents of `priceCents` a month for `ms` of the month, in BigInt. */
function exactCents(ms: number, priceCents: number, monthMs: number): string {
  const used = BigInt(Math.min(ms, monthMs));
  const month = BigInt(monthMs);
  const cents = (2n * BigInt(priceCents) * used + month) / (2n * month);
  return `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`;
}

const amountOf = (ms: number, price: string, month = MONTHS[0]!) =>
  priceLine({ appId: 'a', kind: 'addon', key: 'k', product: 'p', ms }, month, { currency: 'USD', products: { p: price } } as never).amount;

describe('line amounts: rounded once, half up, from the exact amount', () => {
  test('exactly half a cent after an endless quotient of months rounds up (3.00 for 13h38m24s of October is 0.055)', () => {
    // 49,104,000 ms of October's 2,678,400,000 is 1/54.545… of a month: the months never end,
    // the amount is exactly 0.055.
    assert.equal(amountOf(49_104_000, '3.00'), '0.06');
    assert.equal(amountOf(303_552, '750.00'), '0.09');
    assert.equal(amountOf(49_104_000 - 1, '3.00'), '0.05');
  });

  test('for random usage, prices and months, the amount is the exact half-up cents (capped at the price)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...MONTHS),
        fc.integer({ min: 0, max: 3 * 2_678_400_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (month, ms, priceCents) => {
          const price = `${Math.floor(priceCents / 100)}.${String(priceCents % 100).padStart(2, '0')}`;
          const monthMs = month.seconds * 1000;
          assert.equal(amountOf(ms, price, month), exactCents(ms, priceCents, monthMs), `${ms} ms at ${price}`);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  test('the amounts found wrong by dividing first (half cents of 3.00, 9.00 and 750.00) are all exact now', () => {
    // Usage that makes the amount an exact half cent: ms = month ms × (n + 0.5) / price cents.
    let checked = 0;
    for (const month of MONTHS) {
      const monthMs = month.seconds * 1000;
      for (const priceCents of [300, 900, 75_000]) {
        for (let n = 0; n < 400; n++) {
          const twice = BigInt(monthMs) * BigInt(2 * n + 1);
          if (twice % BigInt(2 * priceCents) !== 0n) continue;
          const ms = Number(twice / BigInt(2 * priceCents));
          if (ms > monthMs) break;
          const price = (priceCents / 100).toFixed(2);
          assert.equal(amountOf(ms, price, month), exactCents(ms, priceCents, monthMs), `${ms} ms at ${price}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 100, `${checked} half cents checked`);
  });

  test("the usage chart's day is not capped (40 basic dynos for an October day: 9.03), a line is (7.00)", () => {
    const day = 40 * 86_400_000;
    const october = MONTHS[0]!.seconds;
    assert.equal(toCents(priceShare(day, october, '7.00')), '9.03');
    assert.equal(toCents(usageAmount(day, october, '7.00')), '7.00');
  });
});
