// Finance review of what finalize tells: an invoice.finalized notice's `time` is
// the invoice's own finalized_at (the instant the exports show), not the run's
// clock read before credits expired; and a month numbers at most 999,999
// invoices (`YYYY-MM-NNNNNN`), a seventh digit sorting out of order.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { TestDatabase } from '@vault/testkit';
import { finalizeChunk, InvoiceNumbersExhaustedError, MAX_INVOICES_A_MONTH } from '../src/billing/finalize-chunk.ts';
import { finalizePeriod } from '../src/billing/finalize.ts';
import type { AccountRows } from '../src/billing/finalize-stream.ts';
import { ensureLinesMonth } from '../src/billing/invoice-store.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { parsePeriod } from '../src/domain/period.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

const prices = loadPriceBook();

describe('invoice.finalized tells the invoice’s finalized_at', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await seedOwners(db.pool, [{ app: 'app-t', account: 'acct-t', from: '2026-02-15T00:00:00Z' }]);
    await seedUsage(db.pool, [
      { app: 'app-t', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2026-03-01T00:00:00Z', to: '2026-03-20T00:00:00Z' },
    ]);
  });
  after(() => db.drop());

  test('a run whose clock is not the database’s: the notice’s time is the invoice’s finalized_at, to the millisecond', async () => {
    // Billing's clock well before the database's: the two instants a run knows differ by months.
    const clock = DateTime.fromISO('2026-04-10T00:00:00Z', { zone: 'utc' });
    const report = await finalizePeriod({ pool: db.pool, prices, graceHours: 72, now: () => clock }, parsePeriod('2026-03'));
    assert.equal(report.finalized, 1);
    const { rows } = await db.pool.query<{ finalized_at: Date; time: string; id: string }>(
      `select i.finalized_at, n.event->>'time' as time, n.id
         from invoicing.invoices i join invoicing.notices n on n.id = 'invoice.finalized:' || i.id
        where i.account_id = 'acct-t'`,
    );
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0]!.finalized_at.toISOString(), clock.toJSDate().toISOString(), 'the test needs two instants');
    assert.equal(rows[0]!.time, rows[0]!.finalized_at.toISOString());
  });
});

describe('a month’s invoice numbers stop at 999,999', () => {
  let db: TestDatabase;
  const period = parsePeriod('2026-04');
  const rowsOf = (account: string): AccountRows => ({
    account,
    usage: [{ appId: `app-${account}`, kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', ms: 86_400_000 }],
    holds: [],
    late: [],
  });
  const terms = () => ({
    period,
    prices,
    minimum: '0.50',
    at: new Date('2026-05-04T00:00:00Z'),
    finalizedAt: new Date('2026-05-04T00:00:00Z'),
    run: randomUUID(),
  });
  before(async () => {
    db = await billingDatabase();
    await ensureLinesMonth(db.pool, period.key);
  });
  after(() => db.drop());

  test('a chunk that would number past it is refused whole, naming the month; up to it numbers stay six digits', async () => {
    const accounts = [rowsOf('acct-1'), rowsOf('acct-2')];
    const refused = finalizeChunk(db.pool, terms(), accounts, {
      firstNumber: Promise.resolve(MAX_INVOICES_A_MONTH),
      previousCommitted: Promise.resolve(),
    });
    refused.nextNumber.catch(() => {});
    await assert.rejects(refused.committed, (err: unknown) => {
      assert.ok(err instanceof InvoiceNumbersExhaustedError, String(err));
      assert.match(err.message, /^2026-04 would need invoice number 1000000: a month's numbers \(YYYY-MM-NNNNNN\) stop at 999,999/);
      return true;
    });
    const count = async () =>
      (
        await db.pool.query<{ n: number }>(
          `select (select count(*) from invoicing.invoices)::int + (select count(*) from invoicing.notices)::int as n`,
        )
      ).rows[0]!.n;
    assert.equal(await count(), 0, 'nothing of the chunk was written');

    const fits = finalizeChunk(db.pool, terms(), accounts, {
      firstNumber: Promise.resolve(MAX_INVOICES_A_MONTH - 1),
      previousCommitted: Promise.resolve(),
    });
    assert.equal((await fits.committed).finalized, 2);
    const { rows } = await db.pool.query<{ number: string }>('select number from invoicing.invoices order by number');
    assert.deepEqual(
      rows.map((r) => r.number),
      ['2026-04-999998', '2026-04-999999'],
    );
  });
});
