// A draft shows the credit it would use (docs/contracts/invoicing.md, Credits): the month
// is finalized no earlier than its end plus INVOICE_GRACE_HOURS, and finalize
// first writes off what expired by its run. So a grant expiring between the
// month's end and that due time pays nothing of the month, and its draft, the
// projection and the usage page must not show it paying. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { TestDatabase } from '@vault/testkit';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

const prices = loadPriceBook();

describe('the credit a draft shows is the credit its finalized invoice applies', () => {
  let db: TestDatabase;
  let clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
  let billing: ReturnType<typeof createBilling>;
  // October is due on November 4, 00:00 (72 hours of grace). Each account's grant of 10.00 expires:
  const GRANTS = {
    'exp-at-end': '2026-11-01T00:00:00Z', // at the month's end
    'exp-in-grace': '2026-11-03T12:00:00Z', // within the grace period
    'exp-after-due': '2026-11-10T00:00:00Z', // after the due time: it pays
  };
  const accounts = Object.keys(GRANTS) as (keyof typeof GRANTS)[];
  const at = (iso: string) => {
    clock = DateTime.fromISO(iso, { zone: 'utc' });
  };

  before(async () => {
    db = await billingDatabase();
    billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    for (const account of accounts) {
      const app = `${account}-app`;
      await seedOwners(db.pool, [{ app, account, from: '2026-10-01T00:00:00Z', learnedAt: '2026-10-01T00:00:00Z' }]);
      // 14 of October's 31 days of standard-1x: 25.00 × 14/31 = 11.29.
      await seedUsage(db.pool, [
        {
          app,
          kind: 'dyno',
          key: 'web.1',
          product: 'dyno:standard-1x',
          from: '2026-10-01T00:00:00Z',
          to: '2026-10-15T00:00:00Z',
          learnedAt: '2026-10-15T00:00:00Z',
        },
      ]);
      const granted = await billing.grantCredit(account, {
        id: `g-${account}`,
        amount: '10.00',
        reason: 'goodwill',
        expires_at: GRANTS[account],
      });
      assert.equal(granted.outcome, 'created');
    }
  });
  after(async () => {
    await db?.drop();
  });

  test('a grant expiring between the month’s end and its due time: the draft, the projection and the usage page show 0.00, as October’s invoice applies; one expiring after shows 10.00', async () => {
    const want = { 'exp-at-end': '0.00', 'exp-in-grace': '0.00', 'exp-after-due': '10.00' };
    at('2026-10-20T00:00:00Z');
    for (const account of accounts) {
      const draft = await billing.draft(account);
      assert.equal(draft.subtotal, '11.29', account);
      assert.equal(draft.credit_applied, want[account], `${account}: the draft on October 20`);
      assert.equal((await billing.projection(account)).credit_applied, want[account], `${account}: the projection`);
      const page = await billing.usageView(account);
      assert.equal(page.draft.credit_applied, want[account], `${account}: the usage page's draft`);
      assert.equal(page.projection?.credit_applied, want[account], `${account}: the usage page's projection`);
      // The balance itself is as of now: every grant is still there.
      assert.equal((await billing.balance(account)).credit, '10.00');
    }
    // In the grace period, October is still a draft: settled as its run on the due time will.
    at('2026-11-02T00:00:00Z');
    for (const account of accounts) {
      assert.equal((await billing.draft(account, '2026-10')).credit_applied, want[account], `${account}: October's draft on November 2`);
    }

    at('2026-11-04T00:00:00Z');
    await billing.finalize('2026-10');
    for (const account of accounts) {
      const invoice = (await billing.invoices(account)).find((i) => i.period === '2026-10')!;
      assert.deepEqual([invoice.subtotal, invoice.credit_applied], ['11.29', want[account]], `${account}: October's invoice`);
    }
  });

  test('a month already due is settled as of now: a draft of it after a grant expired shows nothing of that grant', async () => {
    // November is due on December 4; a grant expiring December 10 pays a draft of it until then.
    at('2026-11-20T00:00:00Z');
    await seedOwners(db.pool, [{ app: 'due-app', account: 'exp-due', from: '2026-11-01T00:00:00Z', learnedAt: '2026-11-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      {
        app: 'due-app',
        kind: 'dyno',
        key: 'web.1',
        product: 'dyno:standard-1x',
        from: '2026-11-01T00:00:00Z',
        to: '2026-11-16T00:00:00Z',
        learnedAt: '2026-11-16T00:00:00Z',
      },
    ]);
    await billing.grantCredit('exp-due', { id: 'g-exp-due', amount: '5.00', reason: 'goodwill', expires_at: '2026-12-10T00:00:00Z' });
    assert.equal((await billing.draft('exp-due')).credit_applied, '5.00', 'November 20: it expires after November is due');
    // Held past its due time (a run not made yet): a draft of it now is what a run now would apply.
    at('2026-12-20T00:00:00Z');
    assert.equal((await billing.draft('exp-due', '2026-11')).credit_applied, '0.00', 'December 20: it has expired');
  });
});
