// Late usage through three monthly finalize runs, end to end: an account with
// an invoice of the previous month is looked at only for what metering learned
// since that invoice (late-candidates-rule.test.ts states the rule), yet every
// finalized month ends up charging, over its invoice and the adjustments on
// later invoices, exactly what its usage prices at now. Time between the runs
// is simulated by moving each run's invoices' finalized_at back (their
// immutability trigger is disabled in this test's own database).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import type { TestDatabase } from '@vault/testkit';
import { computeDrafts } from '../src/billing/compute-drafts.ts';
import { lateCandidates } from '../src/billing/late-usage.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { LATE_MARGIN_INTERVAL } from '../src/billing/sql.ts';
import { parsePeriod } from '../src/domain/period.ts';
import { chargedFor, finalizeAt, pricedNow as pricedNowOf } from './late-runs.ts';
import { basicDyno, billingDatabase, seedOwners, seedStop, seedUsage, type SeedUsage } from './seed.ts';

const prices = loadPriceBook();
const ACCOUNTS = ['r-a', 'r-c', 'r-d'];
const dyno = (app: string, key: string, from: string, to: string | undefined, learnedAt: string): SeedUsage =>
  basicDyno(app, from, to, learnedAt, key);

describe('late usage over three monthly runs (real PostgreSQL, finalize)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
  });
  after(async () => {
    await db?.drop();
  });

  const run = (period: string, clock: string, finalizedAt: string) => finalizeAt(db.pool, prices, period, clock, finalizedAt);
  /** What a month (August unless given) charges the account now: its invoice's lines and every adjustment to it on later invoices. */
  const charged = (account: string, period = '2026-08') => chargedFor(db.pool, account, period);
  const pricedNow = (account: string, period: string) => pricedNowOf(db.pool, prices, account, period);

  test('an account with September’s invoice is not looked at again for what that run carried, and August charges its usage for every account', async () => {
    await seedOwners(db.pool, [
      { app: 'r-shop', account: 'r-a', from: '2026-08-01T00:00:00Z', learnedAt: '2026-08-01T00:00:00Z' },
      { app: 'r-blog', account: 'r-c', from: '2026-08-01T00:00:00Z', learnedAt: '2026-08-01T00:00:00Z' },
      { app: 'r-api', account: 'r-d', from: '2026-08-01T00:00:00Z', learnedAt: '2026-08-01T00:00:00Z' },
    ]);
    const august = (app: string) => dyno(app, 'web.1', '2026-08-05T00:00:00Z', '2026-08-07T00:00:00Z', '2026-08-07T00:00:00Z');
    await seedUsage(db.pool, [august('r-shop'), august('r-blog'), august('r-api')]);
    await run('2026-08', '2026-09-10T00:00:00Z', '2026-09-04T00:00:00Z');

    // Learned on September 10, after August's invoices: r-a and r-d used more in August. In
    // September r-a and r-d ran again; r-c did not, so it gets no September invoice.
    await seedUsage(db.pool, [
      dyno('r-shop', 'web.2', '2026-08-20T00:00:00Z', '2026-08-22T00:00:00Z', '2026-09-10T00:00:00Z'),
      dyno('r-api', 'web.2', '2026-08-20T00:00:00Z', '2026-08-22T00:00:00Z', '2026-09-10T00:00:00Z'),
      dyno('r-shop', 'web.3', '2026-09-03T00:00:00Z', '2026-09-04T00:00:00Z', '2026-09-04T00:00:00Z'),
      dyno('r-api', 'web.3', '2026-09-03T00:00:00Z', '2026-09-04T00:00:00Z', '2026-09-04T00:00:00Z'),
    ]);
    await run('2026-09', '2026-10-10T00:00:00Z', '2026-10-04T00:00:00Z');

    // Learned on October 8, after September's invoices: more August usage of r-a and of r-c
    // (which has no September invoice); nothing new of r-d.
    await seedUsage(db.pool, [
      dyno('r-shop', 'web.4', '2026-08-25T00:00:00Z', '2026-08-26T00:00:00Z', '2026-10-08T00:00:00Z'),
      dyno('r-blog', 'web.4', '2026-08-25T00:00:00Z', '2026-08-26T00:00:00Z', '2026-10-08T00:00:00Z'),
      dyno('r-shop', 'web.5', '2026-10-03T00:00:00Z', '2026-10-04T00:00:00Z', '2026-10-04T00:00:00Z'),
      dyno('r-api', 'web.5', '2026-10-03T00:00:00Z', '2026-10-04T00:00:00Z', '2026-10-04T00:00:00Z'),
    ]);
    // r-d's September 10 news was carried onto its September invoice: not a candidate again
    // (by its August invoice's threshold alone it would be).
    const candidates = await lateCandidates(db.pool, new Date('2026-10-01T00:00:00Z'), undefined, LATE_MARGIN_INTERVAL);
    // r-a's September charged r-shop, and web.4 (learned October 8) starts before September ends:
    // a candidate, as a stop learned late would be (recomputed, it changes nothing).
    assert.deepEqual(candidates.map((c) => `${c.account_id}:${c.period}:${c.app_id}`).sort(), [
      'r-a:2026-08:r-shop',
      'r-a:2026-09:r-shop',
      'r-c:2026-08:r-blog',
    ]);
    await run('2026-10', '2026-11-10T00:00:00Z', '2026-11-04T00:00:00Z');

    const month = parsePeriod('2026-08');
    const { drafts } = await computeDrafts(db.pool, prices, { period: month, until: month.end.toJSDate(), accounts: ACCOUNTS });
    for (const account of ACCOUNTS) {
      const now = new Decimal(drafts.get(account)!.subtotal).toFixed(2);
      assert.equal(await charged(account), now, `August of ${account}: charged over its invoices, priced now`);
    }
    // Each late change was charged once: r-a twice (September and October), r-c once, r-d once.
    const { rows } = await db.pool.query<{ account_id: string; period: string }>(
      `select i.account_id, i.period from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_number = i.number
        where l.kind = 'adjustment' order by 1, 2`,
    );
    assert.deepEqual(
      rows.map((r) => `${r.account_id}:${r.period}`),
      ['r-a:2026-09', 'r-a:2026-10', 'r-c:2026-10', 'r-d:2026-09'],
    );
  });
  test('a stop learned late that ends a running dyno in a month already invoiced credits every later month billed for it, not only the month it lands in', async () => {
    // Running from September 20: September and October are invoiced with it still running.
    await seedOwners(db.pool, [{ app: 's-shop', account: 's-a', from: '2026-09-01T00:00:00Z', learnedAt: '2026-09-01T00:00:00Z' }]);
    await seedUsage(db.pool, [dyno('s-shop', 'web.1', '2026-09-20T00:00:00Z', undefined, '2026-09-20T00:00:00Z')]);
    await run('2026-09', '2026-10-10T00:00:00Z', '2026-10-04T00:00:00Z');
    await run('2026-10', '2026-11-10T00:00:00Z', '2026-11-04T00:00:00Z');
    const billed = { sep: await charged('s-a', '2026-09'), oct: await charged('s-a', '2026-10') };
    assert.ok(new Decimal(billed.oct).gt(0), 'October charged the running dyno');

    // Learned after both invoices (a publisher's outage): it stopped on September 25. Its interval,
    // derived again, no longer reaches October at all.
    await seedStop(db.pool, 's-shop', 'web.1', '2026-09-25T00:00:00Z');
    await run('2026-11', '2026-12-10T00:00:00Z', '2026-12-04T00:00:00Z');

    assert.equal(await pricedNow('s-a', '2026-10'), '0.00');
    assert.equal(await charged('s-a', '2026-10'), '0.00', 'October charges nothing now: its whole charge is credited');
    assert.equal(await charged('s-a', '2026-09'), await pricedNow('s-a', '2026-09'), 'September charges its five days');
    const { rows } = await db.pool.query<{ adjusts: string; amount: string }>(
      `select l.adjusts, l.amount::text from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_number = i.number
        where i.account_id = 's-a' and i.period = '2026-11' and l.kind = 'adjustment' order by l.adjusts`,
    );
    assert.deepEqual(
      rows.map((r) => r.adjusts),
      ['2026-09', '2026-10'],
      `November carries both months' credits: ${JSON.stringify(rows)}`,
    );
    assert.equal(rows[1]!.amount, new Decimal(billed.oct).neg().toFixed(2));
  });
});
