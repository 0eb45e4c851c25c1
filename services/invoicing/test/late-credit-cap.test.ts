// The rule of docs/contracts/invoicing.md, "Late credits after a refund or chargeback", as a pure
// function: a late credit for a month never pays back more than the month still keeps after its
// refunds and chargebacks (lost, or open); late charges are never capped.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { capLateCredits } from '../src/domain/late-credit-cap.ts';
import type { PricedLine } from '../src/domain/lines.ts';

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
    assert.equal(capped!.ms, -1, 'the exact usage change stays for later recomputations');
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
