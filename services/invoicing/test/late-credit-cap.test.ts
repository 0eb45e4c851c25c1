// The rule of docs/contracts/invoicing.md, "Late credits after a refund or chargeback", as a pure
// function: a late credit for a month never pays back more than the month still keeps after its
// refunds and chargebacks (lost, or open); late charges are never capped.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { capLateCredits } from '../src/domain/late-credit-cap.ts';
import { adjustmentLines, chargedSoFar, priceLine, type PricedLine } from '../src/domain/lines.ts';
import { parsePeriod } from '../src/domain/period.ts';

const line = (key: string, amount: string | null): PricedLine => ({
  app_id: 'shop',
  kind: 'adjustment',
  key,
  product: 'dyno:standard-1x',
  quantity: '-0.9666667',
  unit_price: amount === null ? null : '25.00',
  amount,
  description: `${amount?.startsWith('-') ? 'Credit' : 'Charge'} for 2026-10: ${key} standard-1x`,
  adjusts: '2026-10',
  ms: -1,
});
const amounts = (lines: readonly PricedLine[]) => lines.map((l) => `${l.key} ${l.amount}`);
const paid = { charged: '25.00', refunded: '0.00', disputed: '0.00' };

describe('late credits after a refund or chargeback (capLateCredits)', () => {
  test('a month neither refunded nor charged back is credited in full', () => {
    const lines = [line('web.1', '-24.17')];
    assert.deepEqual(capLateCredits(lines, '2026-10', paid), lines);
  });

  test('refunded in full: no credit at all', () => {
    assert.deepEqual(capLateCredits([line('web.1', '-24.17')], '2026-10', { ...paid, refunded: '25.00' }), []);
  });

  test('refunded 10.00 of 25.00: the credit is capped at the 15.00 the month keeps, and says so', () => {
    const [capped, ...rest] = capLateCredits([line('web.1', '-24.17')], '2026-10', { ...paid, refunded: '10.00' });
    assert.equal(rest.length, 0);
    assert.equal(capped!.amount, '-15.00');
    assert.equal(
      capped!.description,
      'Credit for 2026-10: web.1 standard-1x (24.17 capped to 15.00: 2026-10 was paid back 10.00 refunded)',
    );
    assert.equal(capped!.quantity, '-0.5999173', 'the share of its months the credit gives: 15.00 of 24.17');
  });

  test('a chargeback lost or still open counts as given back; a refund and a chargeback add up', () => {
    assert.deepEqual(capLateCredits([line('web.1', '-24.17')], '2026-10', { ...paid, disputed: '25.00' }), []);
    const [capped] = capLateCredits([line('web.1', '-24.17')], '2026-10', { ...paid, refunded: '5.00', disputed: '12.00' });
    assert.equal(capped!.amount, '-8.00');
    assert.match(capped!.description, /5\.00 refunded and 12\.00 charged back \(given if the chargeback is won\)/);
  });

  test('credits take the room in line order: the one crossing it is cut, the ones after it left out', () => {
    const lines = [line('web.1', '-6.00'), line('web.2', '-6.00'), line('web.3', '-6.00')];
    assert.deepEqual(amounts(capLateCredits(lines, '2026-10', { charged: '25.00', refunded: '16.00', disputed: '0.00' })), [
      'web.1 -6.00',
      'web.2 -3.00',
    ]);
  });

  test('late charges are never capped and add to what the month keeps', () => {
    const lines = [line('web.1', '-20.00'), line('web.2', '5.00')];
    // Refunded in full: the month keeps only this run's 5.00 charge, so 5.00 of the credit.
    assert.deepEqual(amounts(capLateCredits(lines, '2026-10', { ...paid, refunded: '25.00' })), ['web.1 -5.00', 'web.2 5.00']);
  });

  test('an unpriced adjustment passes as it is', () => {
    const lines = [line('web.1', null), line('web.2', '-24.17')];
    assert.deepEqual(amounts(capLateCredits(lines, '2026-10', { ...paid, refunded: '25.00' })), ['web.1 null']);
  });

  test('what the month keeps counts earlier credits: never more back in all than it charged', () => {
    // October charged 25.00, a first late credit gave 4.00 back (charged so far 21.00), then 10.00 was refunded.
    const [capped] = capLateCredits([line('web.1', '-20.17')], '2026-10', { charged: '21.00', refunded: '10.00', disputed: '0.00' });
    assert.equal(capped!.amount, '-11.00');
    // Already given back more than it keeps (a refund of a total that carried other months): nothing.
    assert.deepEqual(capLateCredits([line('web.1', '-1.00')], '2026-10', { charged: '3.00', refunded: '5.00', disputed: '0.00' }), []);
  });
});

// R4 finding 1: a cut credit kept the whole line's quantity and ms. October (25.00 for a month's
// dyno) stopped late on October 2, 10.00 charged back: November's credit showed -0.9677419 × 25.00
// beside -15.00, and once the chargeback was won the rest showed 0.0000000 × 25.00 beside -9.19.
describe('a cut late credit and the rest given later: quantity × unit price is the amount, within a cent', () => {
  const DAY = 86_400_000;
  const usage = (ms: number, month: string): PricedLine =>
    priceLine({ appId: 'shop', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', ms }, parsePeriod(month), {
      currency: 'USD',
      products: { 'dyno:standard-1x': '25.00' },
    } as never);
  const cents = (l: PricedLine) => new Decimal(l.quantity).times(l.unit_price!).minus(l.amount!).abs();
  const agrees = (l: PricedLine, what: string) =>
    assert.ok(cents(l).lte('0.01'), `${what}: ${l.quantity} × ${l.unit_price} is ${l.amount} within a cent`);

  /** The month's credit cut by `back` given back, then the rest once that is undone (a chargeback won). */
  function cutThenRest(month: string, wasMs: number, isMs: number, back: string) {
    const period = parsePeriod(month);
    const was = [usage(wasMs, month)];
    const now = [usage(isMs, month)];
    const charged = was[0]!.amount!;
    const [credit] = adjustmentLines(chargedSoFar(was), now, period);
    const [cutLine, ...none] = capLateCredits([credit!], month, { charged, refunded: '0.00', disputed: back });
    assert.equal(none.length, 0);
    const [rest, ...more] = adjustmentLines(chargedSoFar([...was, cutLine!]), now, period);
    assert.equal(more.length, 0);
    return { credit: credit!, cut: cutLine!, rest: rest! };
  }

  test('a month of 25.00 stopped on its 2nd, 10.00 charged back: cut to 15.00, the rest 9.19 once it is won, each matching', () => {
    const { credit, cut, rest } = cutThenRest('2025-10', 31 * DAY, DAY, '10.00');
    assert.deepEqual([credit.quantity, credit.amount], ['-0.9677419', '-24.19']);
    assert.equal(cut.amount, '-15.00');
    agrees(cut, 'the cut credit');
    assert.equal(rest.amount, '-9.19');
    agrees(rest, 'the rest, given once the chargeback is won');
    assert.equal(new Decimal(cut.quantity).plus(rest.quantity).toFixed(7), credit.quantity, 'the two give the months of the whole credit');
  });

  test('a capped line (1.5 months charged 25.00, 0.83 now), 23.00 charged back: cut to 2.00, the rest 2.17, each matching', () => {
    const { credit, cut, rest } = cutThenRest('2026-09', 45 * DAY, 25 * DAY, '23.00');
    assert.deepEqual([credit.quantity, credit.amount], ['-0.1666667', '-4.17']);
    assert.equal(cut.amount, '-2.00');
    agrees(cut, 'the cut credit');
    assert.equal(rest.amount, '-2.17');
    agrees(rest, 'the rest past the one-month cap');
  });

  test('any usage and any amount given back: the cut credit and the rest each match their amounts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 * DAY }),
        fc.integer({ min: 0, max: 60 * DAY }),
        fc.integer({ min: 1, max: 2500 }),
        (a, b, backCents) => {
          const [wasMs, isMs] = a > b ? [a, b] : [b, a];
          const period = parsePeriod('2025-10');
          const was = [usage(wasMs, '2025-10')];
          const now = [usage(isMs, '2025-10')];
          const [credit] = adjustmentLines(chargedSoFar(was), now, period);
          if (!credit?.amount?.startsWith('-')) return;
          const back = new Decimal(backCents).div(100).toFixed(2);
          const [cutLine] = capLateCredits([credit], '2025-10', { charged: was[0]!.amount!, refunded: '0.00', disputed: back });
          if (!cutLine) return;
          agrees(cutLine, 'the cut credit');
          const [rest] = adjustmentLines(chargedSoFar([...was, cutLine]), now, period);
          if (rest) agrees(rest, 'the rest');
          const total = new Decimal(cutLine.amount!).plus(rest?.amount ?? 0);
          assert.equal(total.toFixed(2), credit.amount, 'the cut credit and the rest give the whole credit, once');
        },
      ),
    );
  });
});
