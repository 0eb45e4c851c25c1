// A credit granted while a finalize run is under way (after the run fixed its
// clock, before its account's chunk read the lots) is not the run's to use:
// the run settles with the balance as of its clock (invoicing.md). Otherwise
// the invoice draws on a grant made after the run's clock and the ledger dates
// the `applied` entry before the grant exists: at a month's boundary
// credits.csv shows the credit used in one month and granted in the next.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type pg from 'pg';
import type { TestDatabase } from '@vault/testkit';
import { grant } from '../src/billing/credits.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { exportCsv } from '../src/exports/stream.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

const prices = loadPriceBook();

/**
 * `pool`, except that finalize's ensure_lines_month statement (after the run
 * fixed its clock and wrote off expiries, before its first chunk reads the
 * lots) first waits for `meanwhile`: a concurrent request committed mid-run.
 */
function poolWithMidRun(pool: pg.Pool, meanwhile: () => Promise<void>): { pool: pg.Pool; ran: () => boolean } {
  let ran = false;
  const wrapped = new Proxy(pool, {
    get(target, prop) {
      if (prop === 'query') {
        return async (...args: unknown[]) => {
          const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? '');
          if (!ran && text.includes('ensure_lines_month')) {
            ran = true;
            await meanwhile();
          }
          return (target.query as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { pool: wrapped, ran: () => ran };
}

async function creditsCsv(pool: pg.Pool, period: string): Promise<string[][]> {
  let text = '';
  for await (const chunk of exportCsv(pool, 'credits', period, { now: () => new Date('2027-03-10T00:00:00Z') })) text += chunk;
  return text
    .trimEnd()
    .split('\r\n')
    .map((r) => r.split(','));
}

describe('a credit grant recorded while a finalize run is under way', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(() => db?.drop());

  test('is not used by the run that started before it but by the next month’s invoice, and credits.csv never dates its use before the grant', async () => {
    await seedOwners(db.pool, [{ app: 'gr-app', account: 'acct-gr', from: '2026-12-01T00:00:00Z' }]);
    // December: 31/31 × 7.00 = 7.00; January: 7.00.
    await seedUsage(db.pool, [
      { app: 'gr-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-12-01T00:00:00Z', to: '2027-02-01T00:00:00Z' },
    ]);
    // December's run fixes its clock 100 ms before February; the operator's grant lands 100 ms into February, mid-run.
    const runClock = DateTime.fromISO('2027-01-31T23:59:59.900Z', { zone: 'utc' });
    const apiClock = DateTime.fromISO('2027-02-01T00:00:00.100Z', { zone: 'utc' });
    const midRun = poolWithMidRun(db.pool, async () => {
      const out = await grant({ pool: db.pool, currency: prices.currency, now: () => apiClock }, 'acct-gr', {
        id: 'gr-goodwill',
        amount: '5.00',
        reason: 'goodwill',
      });
      assert.equal(out.outcome, 'created');
    });
    await createBilling({ pool: midRun.pool, prices, graceHours: 72, now: () => runClock }).finalize('2026-12');
    assert.ok(midRun.ran(), 'the grant was recorded mid-run');

    const invoice = async (period: string) =>
      (
        await db.pool.query<{ subtotal: string; credit_applied: string; total: string }>(
          `select subtotal::text, credit_applied::text, total::text from invoicing.invoices where account_id = 'acct-gr' and period = $1`,
          [period],
        )
      ).rows.map((r) => [r.subtotal, r.credit_applied, r.total]);
    assert.deepEqual(await invoice('2026-12'), [['7.00', '0.00', '7.00']], 'December’s run does not use a grant made after its clock');

    // January's run (at its due time) uses it.
    const later = DateTime.fromISO('2027-02-04T00:00:00Z', { zone: 'utc' });
    await createBilling({ pool: db.pool, prices, graceHours: 72, now: () => later }).finalize('2027-01');
    assert.deepEqual(await invoice('2027-01'), [['7.00', '5.00', '2.00']]);

    const early = await db.pool.query<{ kind: string; at: Date; granted: Date }>(
      `select a.kind, a.at, l.at as granted from invoicing.credit_entries a join invoicing.credit_entries l on l.id = a.lot_id
        where a.account_id = 'acct-gr' and a.at < l.at`,
    );
    assert.deepEqual(early.rows, [], 'no entry on a lot is dated before the lot');

    // January's file has none of it; February's has the grant and then its use: each month's control total is what moved in it.
    const january = await creditsCsv(db.pool, '2027-01');
    assert.deepEqual(january.slice(1), [['TOTAL', '0', '', '', '0.00', '', '', '', '', '', '']]);
    const february = await creditsCsv(db.pool, '2027-02');
    assert.deepEqual(
      february.slice(1, -1).map((r) => [r[0], r[3], r[4], r[6]]),
      [
        ['2027-02-01T00:00:00.100Z', 'grant', '5.00', 'gr-goodwill'],
        ['2027-02-04T00:00:00.000Z', 'applied', '-5.00', ''],
      ],
    );
    assert.deepEqual(february.at(-1), ['TOTAL', '2', '', '', '0.00', 'USD', '', '', '', '', '']);
  });
});
