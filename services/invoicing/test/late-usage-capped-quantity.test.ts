// An adjustment to a capped line (R2 F2): its quantity is the change in
// billable months, each side capped at one month as the amounts are, so that
// quantity × unit price gives its amount. It was the raw change in months: a
// September line of 1.5 months (overlapping restarts, capped at 25.00) stopped
// late at 0.83 months showed -0.6666667 × 25.00 beside -4.17, in lines.csv and
// on the invoice page. The raw milliseconds stay on the line for the arithmetic
// of later adjustments (chargedSoFar).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import type { TestDatabase } from '@vault/testkit';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { adjustmentLines, chargedSoFar, priceLine, type PricedLine } from '../src/domain/lines.ts';
import { parsePeriod } from '../src/domain/period.ts';
import { exportCsv, parseCsv } from '../src/exports/index.ts';
import { linesByApp } from '../src/web/pages/lines.ts';
import { LINE_HEADER } from './exports-fixture.ts';
import { billingDatabase, seedOwners, seedStop, seedUsage } from './seed.ts';

const prices = loadPriceBook();
const SEPTEMBER = parsePeriod('2026-09');
const DAY = 86_400_000;

/** quantity × unit price, rounded once, half up, to cents: what finance checks each line against. */
const timesPrice = (l: { quantity: string; unit_price: string | null }) =>
  new Decimal(l.quantity).times(l.unit_price!).toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2);

const line = (ms: number, price: string, month = SEPTEMBER): PricedLine =>
  priceLine({ appId: 'a', kind: 'dyno', key: 'web.1', product: 'dyno:x', ms }, month, {
    currency: 'USD',
    products: { 'dyno:x': price },
  } as never);

describe('an adjustment to a capped line: its quantity is the billable months it changes (pure)', () => {
  test('1.5 months charged (capped at 25.00), 0.83 now: -0.1666667 months × 25.00 = -4.17; the raw ms stay on the line', () => {
    const [adj] = adjustmentLines([line(45 * DAY, '25.00')], [line(25 * DAY, '25.00')], SEPTEMBER);
    assert.deepEqual([adj!.quantity, adj!.unit_price, adj!.amount], ['-0.1666667', '25.00', '-4.17']);
    assert.equal(timesPrice(adj!), adj!.amount);
    assert.equal(adj!.ms, -20 * DAY, 'the raw difference, for chargedSoFar');
    // Charged so far: the invoice's 45 days less the adjustment's 20, capped as before, gives 25 days' amount.
    const [so] = chargedSoFar([line(45 * DAY, '25.00'), adj!]);
    assert.equal(so!.ms, 25 * DAY);
    assert.equal(so!.amount, '20.83');
  });

  test('0.9 months charged, 1.1 now: +0.1 months × 25.00 = +2.50 (it said +0.2)', () => {
    const [adj] = adjustmentLines([line(27 * DAY, '25.00')], [line(33 * DAY, '25.00')], SEPTEMBER);
    assert.deepEqual([adj!.quantity, adj!.amount], ['0.1000000', '2.50']);
  });

  test('for random usage before and after, capped or not, quantity × unit price is within a cent of the amount', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * 30 * DAY }),
        fc.integer({ min: 0, max: 3 * 30 * DAY }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (was, is, priceCents) => {
          const price = (priceCents / 100).toFixed(2);
          const [adj] = adjustmentLines([line(was, price)], [line(is, price)], SEPTEMBER);
          if (adj === undefined) return;
          // Each side was rounded once, as its invoice charged it: the difference may be a cent off the product.
          const off = new Decimal(timesPrice(adj)).minus(adj.amount!).abs();
          assert.ok(off.lte('0.01'), `${was} → ${is} ms at ${price}: ${adj.quantity} × ${price} vs ${adj.amount}`);
          assert.ok(new Decimal(adj.quantity).abs().lte(1), 'never more than a month either way');
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('a capped September line stopped late: the October invoice, lines.csv and the invoice page agree (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('the adjustment is -0.1666667 × 25.00 = -4.17 on the invoice, in lines.csv and on the page', async () => {
    await seedOwners(db.pool, [{ app: 'cap-app', account: 'acct-cap', from: '2026-09-01T00:00:00Z' }]);
    // Two overlapping intervals of web.1: one running, one Sep 1–16: 1.5 months of September, capped at 25.00.
    await seedUsage(db.pool, [
      { app: 'cap-app', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2026-09-01T00:00:00Z' },
      { app: 'cap-app', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2026-09-01T00:00:00Z', to: '2026-09-16T00:00:00Z' },
    ]);
    const at = (iso: string) => createBilling({ pool: db.pool, prices, graceHours: 72, now: () => DateTime.fromISO(iso, { zone: 'utc' }) });
    await at('2026-10-05T00:00:00Z').finalize('2026-09');
    const september = await at('2026-10-05T00:00:00Z').draft('acct-cap', '2026-09');
    assert.deepEqual(
      september.lines.map((l) => [l.quantity, l.amount]),
      [['1.5000000', '25.00']],
    );
    // Learned after September's invoice: the running one stopped on Sep 11 (0.8333333 months in all, 20.83).
    await seedStop(db.pool, 'cap-app', 'web.1', '2026-09-11T00:00:00Z');
    const billing = at('2026-11-05T00:00:00Z');
    await billing.finalize('2026-10');
    const october = await billing.draft('acct-cap', '2026-10');
    const adj = october.lines.find((l) => l.kind === 'adjustment')!;
    assert.deepEqual([adj.quantity, adj.unit_price, adj.amount, adj.adjusts], ['-0.1666667', '25.00', '-4.17', '2026-09']);
    assert.equal(timesPrice(adj), adj.amount, 'quantity × unit price, rounded half up, is the amount');

    // lines.csv says the same.
    let text = '';
    for await (const chunk of exportCsv(db.pool, 'lines', '2026-10', { prices, now: () => new Date('2026-11-05T00:00:00Z') }))
      text += chunk;
    const col = (name: string) => LINE_HEADER.indexOf(name);
    const row = parseCsv(text).find((r) => r[col('kind')] === 'adjustment' && r[col('account_id')] === 'acct-cap');
    assert.ok(row, 'the adjustment is in lines.csv');
    assert.deepEqual([row[col('quantity')], row[col('unit_price')], row[col('amount')]], ['-0.1666667', '25.00', '-4.17']);
    assert.equal(timesPrice({ quantity: row[col('quantity')]!, unit_price: row[col('unit_price')]! }), row[col('amount')]);

    // And the invoice page's Months column.
    const page = linesByApp(october).toString();
    const cells = /<tr class="line line-adjustment">[\s\S]*?<td class="num" data-label="Months">([^<]*)<\/td>/.exec(page);
    assert.equal(cells?.[1], '-0.1666667');
  });
});
