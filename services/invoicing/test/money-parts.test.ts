// A month's days are shown in cents that add up to the month's exact amount
// rounded once (partsInCents): rounding each day alone drifted, 30 days of a
// 7.00 plan showing 6.90 in November and 7.13 in October.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { partsInCents, toCents } from '../src/domain/money.ts';

const total = (parts: string[]) => parts.reduce((s, p) => s.plus(p), new Decimal(0)).toFixed(2);

describe('days in cents (pure)', () => {
  test('a 7.00 plan over every day of November and of October adds up to 7.00', () => {
    for (const days of [30, 31]) {
      const parts = partsInCents(Array.from({ length: days }, () => new Decimal(7).div(days)));
      assert.equal(total(parts), '7.00', `${days} days`);
    }
  });

  test('for any amounts: the parts add up to the exact sum rounded once, and each is within a cent of its exact amount', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000_000 }), { maxLength: 31 }),
        fc.integer({ min: 1, max: 9_999 }),
        (numerators, denominator) => {
          const exact = numerators.map((n) => new Decimal(n).div(denominator).div(1000));
          const parts = partsInCents(exact);
          assert.equal(total(parts), toCents(exact.reduce((s, a) => s.plus(a), new Decimal(0))));
          for (const [i, a] of exact.entries()) assert.ok(new Decimal(parts[i]!).minus(a).abs().lt('0.01'), `${parts[i]} for ${a}`);
        },
      ),
    );
  });
});
