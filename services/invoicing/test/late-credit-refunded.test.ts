// A late credit never pays back a month already refunded or charged back (docs/contracts/invoicing.md,
// "Late credits after a refund or chargeback"), through the real finalize, late-usage run and gateway
// webhook handler on the real PostgreSQL. October's invoice of 25.00 (a standard-1x dyno still running)
// is paid, then refunded or charged back; metering then learns the dyno stopped on October 2, and
// November's run carries the credit for October — capped at what October still keeps. A chargeback
// counts while it is open; when it is won (its funds reinstated) the next run gives the credit withheld.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import type { ChargeRow } from '../src/charging/decide.ts';
import { DISPUTE_REINSTATED, DISPUTE_WITHDRAWN } from '../src/charging/disputes.ts';
import { saveCharge } from '../src/charging/store.ts';
import { handleGatewayEvent } from '../src/charging/webhooks.ts';
import { disputeMade, fixtureDisputes } from './charging-fixture.ts';
import { finalizeAt } from './late-runs.ts';
import { billingDatabase, seedOwners, seedStop, seedUsage } from './seed.ts';

const prices = loadPriceBook();
/** Each account's October: paid, then given back thus. */
const CASES = { 'lc-none': 'nothing', 'lc-full': 'refund 2500', 'lc-part': 'refund 1000', 'lc-back': 'chargeback 2500' } as const;
type Account = keyof typeof CASES;

describe('a late credit after a refund or chargeback of its month (real PostgreSQL, finalize, webhooks)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    // Each run's invoices are dated back to their run (late-runs.ts), so only what the run's threshold
    // lets in is late: the dispute won, not the stop a run already carried.
    await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
  });
  after(() => db?.drop());

  /** Finalizes `period` on the 4th of the next month, its invoices dated then. */
  const finalize = (period: string, clock: string) => finalizeAt(db.pool, prices, period, clock);
  const deliver = (id: string, type: string, object: object) =>
    handleGatewayEvent(
      { pool: db.pool, log: memoryLogger(), disputes: fixtureDisputes(db.pool) },
      { id, type, created: Math.floor(Date.now() / 1000), data: { object } },
    );
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
  /** Pays the account's October invoice as the charger and the gateway do. */
  async function pay(account: string): Promise<{ id: string; pi: string; cents: number }> {
    const invoice = (await invoiceOf(account, '2025-10'))!;
    const pi = `pi_${invoice.id}`;
    const cents = Number(new Decimal(invoice.total).times(100));
    const scheduled: ChargeRow = {
      paymentIntentId: pi,
      state: 'scheduled',
      attempts: 0,
      roundStart: 0,
      pendingPaymentMethodId: 'pm_ok_late_credit',
      lastPaymentMethodId: null,
      lastAttemptAt: null,
      nextAttemptAt: new Date(),
      lastErrorCode: null,
      lastErrorMessage: null,
      lastDeclineCode: null,
    };
    await saveCharge({ pool: db.pool }, invoice.id, scheduled);
    const payment = {
      id: pi,
      object: 'payment_intent',
      status: 'succeeded',
      amount: cents,
      currency: 'usd',
      metadata: { invoice_id: invoice.id },
    };
    assert.equal((await deliver(`evt_paid_${invoice.id}`, 'payment_intent.succeeded', payment)).outcome, 'paid');
    return { id: invoice.id, pi, cents };
  }
  const dispute = (invoice: { id: string; pi: string }, cents: number) => {
    disputeMade(`dp_${invoice.id}`, invoice.pi, 'product_not_received');
    return {
      id: `dp_${invoice.id}`,
      object: 'dispute',
      amount: cents,
      currency: 'usd',
      charge: `ch_${invoice.id}`,
      payment_intent: invoice.pi,
    };
  };

  test('refunded in full: no credit; refunded 10.00: capped at 15.00; charged back: none while open, the whole credit once won — never twice', async () => {
    const accounts = Object.keys(CASES) as Account[];
    for (const account of accounts) {
      const app = `${account}-app`;
      await seedOwners(db.pool, [{ app, account, from: '2025-10-01T00:00:00Z', learnedAt: '2025-10-01T00:00:00Z' }]);
      await seedUsage(db.pool, [
        // Running all October (25.00, the monthly price) until a stop timed October 2 arrives late.
        { app, kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2025-10-01T00:00:00Z', learnedAt: '2025-10-01T00:00:00Z' },
        // November's own usage, so every account has November's invoice.
        {
          app,
          kind: 'dyno',
          key: 'web.2',
          product: 'dyno:basic',
          from: '2025-11-01T00:00:00Z',
          to: '2025-12-01T00:00:00Z',
          learnedAt: '2025-11-01T00:00:00Z',
        },
      ]);
    }
    await finalize('2025-10', '2025-11-04T00:00:00Z');
    const paid = new Map<Account, { id: string; pi: string; cents: number }>();
    for (const account of accounts) {
      const invoice = await pay(account);
      assert.equal(invoice.cents, 2500, `${account}: October charged the monthly 25.00`);
      paid.set(account, invoice);
      const [what, cents] = CASES[account].split(' ') as [string, string];
      if (what === 'refund') {
        const charge = {
          id: `ch_${invoice.id}`,
          object: 'charge',
          payment_intent: invoice.pi,
          amount_refunded: Number(cents),
          currency: 'usd',
        };
        const outcome = await deliver(`evt_rf_${invoice.id}`, 'charge.refunded', charge);
        assert.equal(outcome.outcome, cents === '2500' ? 'refunded' : 'partly_refunded');
      }
      if (what === 'chargeback') {
        assert.equal(
          (await deliver(`evt_dw_${invoice.id}`, DISPUTE_WITHDRAWN, dispute(invoice, Number(cents)))).outcome,
          'dispute_withdrawn',
        );
      }
      await seedStop(db.pool, `${account}-app`, 'web.1', '2025-10-02T00:00:00Z');
      // Learned between October's run and November's.
      await db.pool.query(`update metering.usage_intervals set learned_at = '2025-11-20T00:00:00Z' where app_id = $1 and key = 'web.1'`, [
        `${account}-app`,
      ]);
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
