// A late credit never pays back a month already refunded or charged back (docs/contracts/invoicing.md,
// "Late credits after a refund or chargeback"), through the real finalize, late-usage run and gateway
// webhook handler on the real PostgreSQL. October's invoice of 25.00 (a standard-1x dyno still running)
// is paid, then refunded or charged back; metering then learns the dyno stopped on October 2, and
// November's run carries the credit for October — capped at what October still keeps. A chargeback
// counts while it is open; when it is won (its funds reinstated) the next run gives the credit withheld.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import type { TestDatabase } from '@vault/testkit';
import { DISPUTE_REINSTATED, DISPUTE_WITHDRAWN } from '../src/charging/disputes.ts';
import { lateCreditDatabase, lateCreditWorld, type PaidOctober } from './late-credit-fixture.ts';

/** Each account's October: paid, then given back thus. */
const CASES = { 'lc-none': 'nothing', 'lc-full': 'refund 2500', 'lc-part': 'refund 1000', 'lc-back': 'chargeback 2500' } as const;
type Account = keyof typeof CASES;

describe('a late credit after a refund or chargeback of its month (real PostgreSQL, finalize, webhooks)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await lateCreditDatabase();
  });
  after(() => db?.drop());

  // Each run finalizes on the 4th of the next month, its invoices dated then (late-credit-fixture.ts).
  const { finalize, deliver, seedMonths, stopLearnedLate, pay, refund, dispute } = lateCreditWorld(() => db.pool, {
    paymentMethod: 'pm_ok_late_credit',
  });
  const invoiceOf = async (account: string, period: string) =>
    (
      await db.pool.query<{ id: string; total: string }>(
        'select id, total::text from invoicing.invoices where account_id = $1 and period = $2',
        [account, period],
      )
    ).rows[0];
  /** Every credit line for October on any of the account's invoices, as "period amount". */
  const octoberCredits = async (account: string) =>
    (
      await db.pool.query<{ on: string; amount: string; description: string }>(
        `select i.period as on, l.amount::text, l.description from invoicing.invoice_lines l join invoicing.invoices i on i.id = l.invoice_id
          where i.account_id = $1 and l.kind = 'adjustment' and l.adjusts = '2025-10' order by i.period, l.key`,
        [account],
      )
    ).rows;

  test('refunded in full: no credit; refunded 10.00: capped at 15.00; charged back: none while open, the whole credit once won — never twice', async () => {
    const accounts = Object.keys(CASES) as Account[];
    await seedMonths(accounts);
    await finalize('2025-10', '2025-11-04T00:00:00Z');
    const paid = new Map<Account, PaidOctober>();
    for (const account of accounts) {
      const invoice = await pay(account);
      assert.equal(invoice.cents, 2500, `${account}: October charged the monthly 25.00`);
      paid.set(account, invoice);
      const [what, cents] = CASES[account].split(' ') as [string, string];
      if (what === 'refund') {
        const outcome = await refund(invoice, Number(cents));
        assert.equal(outcome.outcome, cents === '2500' ? 'refunded' : 'partly_refunded');
      }
      if (what === 'chargeback') {
        assert.equal(
          (await deliver(`evt_dw_${invoice.id}`, DISPUTE_WITHDRAWN, dispute(invoice, Number(cents)))).outcome,
          'dispute_withdrawn',
        );
      }
      await stopLearnedLate(account);
    }

    await finalize('2025-11', '2025-12-04T00:00:00Z');
    // Unrefunded, October is credited all it charged above its one day: 25.00 − 0.81.
    assert.deepEqual(
      (await octoberCredits('lc-none')).map((l) => `${l.on} ${l.amount}`),
      ['2025-11 -24.19'],
    );
    assert.deepEqual(await octoberCredits('lc-full'), [], 'refunded in full: October keeps nothing to credit');
    const part = await octoberCredits('lc-part');
    assert.deepEqual(
      part.map((l) => `${l.on} ${l.amount}`),
      ['2025-11 -15.00'],
      'refunded 10.00: October keeps 15.00',
    );
    assert.match(part[0]!.description, /24\.19 capped to 15\.00: 2025-10 was paid back 10\.00 refunded/);
    assert.deepEqual(await octoberCredits('lc-back'), [], 'charged back, the dispute open: nothing back yet');
    for (const account of ['lc-full', 'lc-part', 'lc-back']) {
      assert.ok(await invoiceOf(account, '2025-11'), `${account} has November's invoice (its own usage)`);
    }

    // The bank rules for us: the chargeback's funds come back. December's run gives the credit
    // October was owed, once; the refunded accounts get nothing more.
    const back = paid.get('lc-back')!;
    assert.equal((await deliver(`evt_dr_${back.id}`, DISPUTE_REINSTATED, dispute(back, 2500))).outcome, 'dispute_reinstated');
    await finalize('2025-12', '2026-01-04T00:00:00Z');
    assert.deepEqual(
      (await octoberCredits('lc-back')).map((l) => `${l.on} ${l.amount}`),
      ['2025-12 -24.19'],
    );
    await finalize('2026-01', '2026-02-04T00:00:00Z');
    for (const account of accounts) {
      const credits = await octoberCredits(account);
      assert.deepEqual(
        credits.filter((l) => l.on > '2025-12'),
        [],
        `${account}: nothing for October after the run that owed it`,
      );
      const { rows } = await db.pool.query<{ back: string }>(
        `select (amount_refunded + (select coalesce(sum(d.amount), 0) from invoicing.invoice_disputes d
                                     where d.invoice_id = i.id and d.withdrawn_at is not null and d.reinstated_at is null))::text as back
           from invoicing.invoices i where i.account_id = $1 and i.period = '2025-10'`,
        [account],
      );
      const returned = credits.reduce((sum, l) => sum.minus(l.amount), new Decimal(rows[0]!.back));
      assert.ok(returned.lte('25.00'), `${account}: refunds, chargebacks and credits give back ${returned.toFixed(2)} of October's 25.00`);
    }
  });
});
