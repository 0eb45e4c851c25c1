// A finalized month's usage chart is priced as the month charged (docs/contracts/invoicing.md,
// the usage row): a price changed after finalize never re-prices the month, neither its late
// usage (rating.test.ts) nor its days. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { PriceBook } from '@vault/contracts';
import type { TestDatabase } from '@vault/testkit';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { basicDyno, billingDatabase, seedOwners, seedUsage } from './seed.ts';

const prices = loadPriceBook();
const at = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });
/** The chart's total in cents. */
const cents = (days: readonly { amount: string }[]) => days.reduce((sum, d) => sum + Math.round(Number(d.amount) * 100), 0);

describe('a finalized month’s usage chart at the prices it charged', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(() => db?.drop());

  const billingAt = (now: DateTime, book: PriceBook = prices) =>
    createBilling({ pool: db.pool, prices: book, graceHours: 72, now: () => now });

  test('a price changed after finalize never re-prices the month: its usage page draws the days at the price it charged', async () => {
    // dyno:basic runs all October at 7.00; October is finalized (7.00); then the book makes it 9.00.
    await seedOwners(db.pool, [{ app: 'app-1', account: 'acct-1', from: '2026-01-01T00:00:00Z', learnedAt: '2026-01-01T00:00:00Z' }]);
    await seedUsage(db.pool, [basicDyno('app-1', '2026-10-01T00:00:00Z', undefined, '2026-10-01T00:00:00Z')]);
    await billingAt(at('2026-11-10T00:00:00Z')).finalize('2026-10');
    const dearer = { ...prices, products: { ...prices.products, 'dyno:basic': '9.00' } };
    const billing = billingAt(at('2026-11-20T00:00:00Z'), dearer);

    const october = await billing.usageView('acct-1', '2026-10');
    assert.equal(october.draft.status, 'finalized');
    assert.equal(october.draft.total, '7.00');
    assert.equal(october.days.length, 31);
    assert.equal(cents(october.days), 700, 'the days add up to the invoice’s 7.00, not 9.00');
    assert.equal(cents(await billing.usagePerDay('acct-1', '2026-10')), 700, 'the chart alone too');
    // A month without its invoice is drawn at the book's prices: November's 19 days at 9.00.
    assert.equal(cents((await billing.usageView('acct-1', '2026-11')).days), 570);
  });
});
