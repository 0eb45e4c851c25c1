// Finance review: a due month that no finalize run had completed yet (the
// schedule finalizes it within a tick of its due time, or later while the app
// is down) exported as a header and a control row of zeros, a month that
// looked complete with no invoices. Now it is a 409 until a run of it
// completes (migration 024), whether that run makes invoices or finds none.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { TestDatabase } from '@vault/testkit';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { exportCsv, MonthNotFinalizedError } from '../src/exports/index.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

const prices = loadPriceBook();
const NOW = new Date('2027-01-10T00:00:00Z');

async function exported(db: TestDatabase, kind: 'invoices' | 'lines' | 'credits', period: string): Promise<string[]> {
  let text = '';
  for await (const chunk of exportCsv(db.pool, kind, period, { graceHours: 72, now: () => NOW })) text += chunk;
  return text.trimEnd().split('\r\n');
}

describe('finance exports of a due month no finalize run has completed yet (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await seedOwners(db.pool, [{ app: 'nf-app', account: 'acct-nf', from: '2026-10-01T00:00:00Z' }]);
    // Usage in October only: November and December have nothing to invoice, yet are months finalize looks at.
    await seedUsage(db.pool, [
      { app: 'nf-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z', to: '2026-10-11T00:00:00Z' },
    ]);
  });
  after(() => db?.drop());

  test('is refused (409, saying no run has completed) until a run of it completes, then exports what the run made: October its invoice, November none', async () => {
    for (const period of ['2026-10', '2026-11']) {
      for (const kind of ['invoices', 'lines'] as const) {
        await assert.rejects(exported(db, kind, period), (err: unknown) => {
          assert.ok(err instanceof MonthNotFinalizedError, `${kind} ${period}: ${String(err)}`);
          assert.equal(err.statusCode, 409);
          assert.match(err.message, new RegExp(`^${period} is due but no finalize run has completed for it yet`));
          return true;
        });
      }
    }
    assert.equal((await exported(db, 'credits', '2026-11')).length, 2, 'credits.csv (the ledger by date) is not held back');
    // Before the first month with usage nothing is ever finalized: an empty month, exported as one.
    assert.deepEqual((await exported(db, 'invoices', '2026-09')).slice(1), ['TOTAL,0,,,,,0.00,0.00,0.00,0.00,,0,0.00']);

    const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => DateTime.fromJSDate(NOW, { zone: 'utc' }) });
    await billing.finalize('2026-10');
    await billing.finalize('2026-11');
    const october = await exported(db, 'invoices', '2026-10');
    assert.equal(october.length, 3, october.join('\n'));
    assert.match(october[1]!, /acct-nf/);
    const november = await exported(db, 'invoices', '2026-11');
    assert.equal(november.length, 2, 'a run completed and found nothing to invoice: a month with no invoices, exported as one');
    assert.equal((await exported(db, 'lines', '2026-11')).length, 2);
    // December was never run: still refused.
    await assert.rejects(exported(db, 'invoices', '2026-12'), MonthNotFinalizedError);
  });
});
