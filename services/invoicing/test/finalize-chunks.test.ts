// Finalize works through a month a chunk of accounts per transaction (issue
// 19). Whatever the chunk size, a month gives the same invoices: numbers in
// account order, holds, late-usage adjustments, credit and carried totals.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { TestDatabase } from '@vault/testkit';
import { finalizePeriod, type FinalizeDeps } from '../src/billing/finalize.ts';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { compareAccounts } from '../src/domain/account-order.ts';
import { parsePeriod } from '../src/domain/period.ts';
import { canonicalDump, copyOf } from './finalize-fixture.ts';
import { billingDatabase, seedGap, seedOwners, seedStop, seedUsage, type SeedUsage } from './seed.ts';

const prices = loadPriceBook();
const MARCH = '2026-03-01T00:00:00Z';
const APRIL = '2026-04-01T00:00:00Z';
// Ordered by code point ("C"): é (U+00E9) < ｚ (U+FF5A) < 😀 (U+1F600), which JavaScript's `<` puts before ｚ.
const ODD_ACCOUNTS = ['acct-é', 'acct-ｚ', 'acct-😀'];
const accounts = [...Array.from({ length: 30 }, (_, i) => `acct-${String(i).padStart(2, '0')}`), ...ODD_ACCOUNTS];
const appOf = (account: string) => `app-${account}`;

describe('finalize in chunks of accounts', () => {
  let a: TestDatabase;
  let b: TestDatabase;
  const deps = (db: TestDatabase, chunkAccounts: number, at: string): FinalizeDeps => ({
    pool: db.pool,
    prices,
    graceHours: 72,
    now: () => DateTime.fromISO(at, { zone: 'utc' }),
    chunkAccounts,
  });

  before(async () => {
    a = await billingDatabase();
    await seedOwners(
      a.pool,
      accounts.map((account) => ({
        app: appOf(account),
        account,
        from: '2026-02-15T00:00:00Z',
        to: account === 'acct-07' ? '2026-04-15T00:00:00Z' : undefined,
      })),
    );
    const usage: SeedUsage[] = accounts.flatMap((account, i) => [
      // Running from March: March bills it to the month's end, and April too.
      { app: appOf(account), kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: MARCH },
      {
        app: appOf(account),
        kind: 'dyno',
        key: 'worker.1',
        product: 'dyno:basic',
        from: `2026-04-0${1 + (i % 9)}T00:00:00Z`,
        to: '2026-04-20T00:00:00Z',
      },
      {
        app: appOf(account),
        kind: 'addon',
        key: `pg-${i}`,
        product: 'addon:heroku-postgresql:essential-0',
        from: APRIL,
        to: '2026-04-11T00:00:00Z',
      },
    ]);
    await seedUsage(
      a.pool,
      usage.filter((u) => u.app !== appOf('acct-12') || u.key !== 'web.1'),
    );
    await seedUsage(a.pool, [
      // acct-06: a product with no price holds April.
      { app: appOf('acct-06'), kind: 'dyno', key: 'run.1', product: 'dyno:unheard-of', from: APRIL, to: '2026-04-02T00:00:00Z' },
      // acct-12: an hour of March (0.01: below the minimum charge), carried onto April.
      {
        app: appOf('acct-12'),
        kind: 'dyno',
        key: 'once.1',
        product: 'dyno:basic',
        from: '2026-03-03T00:00:00Z',
        to: '2026-03-03T01:00:00Z',
      },
    ]);
    // acct-05: a sequence hole from April 10; acct-07's app has no owner after April 15 and runs on.
    await seedGap(a.pool, appOf('acct-05'), 'sub-gap', '2026-04-10T00:00:00Z');
    const march = await finalizePeriod(deps(a, 1_000, '2026-04-10T00:00:00Z'), parsePeriod('2026-03'));
    assert.equal(march.finalized, accounts.length);
    // After March was finalized: acct-08's web.1 stopped on March 20 (a credit on April), grants to spend in April.
    await seedStop(a.pool, appOf('acct-08'), 'web.1', '2026-03-20T00:00:00Z');
    const billing = createBilling({
      pool: a.pool,
      prices,
      graceHours: 72,
      now: () => DateTime.fromISO('2026-04-20T00:00:00Z', { zone: 'utc' }),
    });
    await billing.grantCredit('acct-10', { id: 'g-10', amount: '10.00', reason: 'goodwill' });
    await billing.grantCredit('acct-ｚ', { id: 'g-z', amount: '3.00', reason: 'expires first', expires_at: '2026-06-01T00:00:00Z' });
    await billing.grantCredit('acct-ｚ', { id: 'g-z2', amount: '50.00', reason: 'never expires' });
    b = await copyOf(a);
  });
  after(async () => {
    await b?.drop();
    await a?.drop();
  });

  test('a chunk of one account at a time and the whole month in one chunk give the same invoices, lines and ledger', async () => {
    const one = await finalizePeriod(deps(a, 1, '2026-05-10T00:00:00Z'), parsePeriod('2026-04'));
    const all = await finalizePeriod(deps(b, 100_000, '2026-05-10T00:00:00Z'), parsePeriod('2026-04'));
    assert.deepEqual(one, all);
    assert.deepEqual([one.finalized, one.held, one.alreadyFinalized], [accounts.length - 3, 3, 0]);
    assert.deepEqual(await canonicalDump(a.pool), await canonicalDump(b.pool));
    // A run of many chunks is counted once, when its first chunk writes, and completed once all committed.
    assert.deepEqual(await runsOf(a), { started: 1, completed: 1 });
    assert.deepEqual(await runsOf(b), { started: 1, completed: 1 });
  });

  test('numbers run 1..n in account order ("C" collation), held accounts left out; adjustment, carried and credit lines where due', async () => {
    const { rows } = await a.pool.query<{ number: string; account_id: string; credit_applied: string }>(
      `select number, account_id, credit_applied::text from invoicing.invoices where period = '2026-04' order by number`,
    );
    const expected = accounts.filter((x) => !['acct-05', 'acct-06', 'acct-07'].includes(x)).sort(compareAccounts);
    assert.deepEqual(
      rows.map((r) => r.account_id),
      expected,
    );
    assert.deepEqual(expected.slice(-3), ODD_ACCOUNTS);
    assert.deepEqual(
      rows.map((r) => r.number),
      expected.map((_, i) => `2026-04-${String(i + 1).padStart(6, '0')}`),
    );
    const lines = async (account: string) =>
      (
        await a.pool.query<{ kind: string; description: string }>(
          `select l.kind, l.description from invoicing.invoice_lines l join invoicing.invoices i on i.id = l.invoice_id
            where i.account_id = $1 and i.period = '2026-04' order by l.position`,
          [account],
        )
      ).rows;
    assert.ok((await lines('acct-08')).some((l) => l.kind === 'adjustment' && l.description.startsWith('Credit for 2026-03')));
    assert.ok((await lines('acct-12')).some((l) => l.kind === 'carried' && l.description.startsWith('Carried from 2026-03')));
    assert.notEqual(rows.find((r) => r.account_id === 'acct-10')!.credit_applied, '0.00');
    assert.notEqual(rows.find((r) => r.account_id === 'acct-ｚ')!.credit_applied, '0.00');
  });

  test('a run after the month is finalized changes nothing: no invoice, no number, no ledger entry', async () => {
    const before = await canonicalDump(a.pool);
    const again = await finalizePeriod(deps(a, 2, '2026-05-11T00:00:00Z'), parsePeriod('2026-04'));
    assert.deepEqual([again.finalized, again.alreadyFinalized, again.held], [0, accounts.length - 3, 3]);
    assert.deepEqual(await canonicalDump(a.pool), before);
    // It wrote nothing, so it counted no run: the schedule revisiting a month never holds its exports back.
    assert.deepEqual(await runsOf(a), { started: 1, completed: 1 });
  });
});

/** The month's finalize runs as counted for the exports (migration 019). */
async function runsOf(db: TestDatabase): Promise<{ started: number; completed: number } | undefined> {
  const { rows } = await db.pool.query<{ started: number; completed: number }>(
    `select started, completed from invoicing.finalize_runs where period = '2026-04'`,
  );
  return rows[0];
}
