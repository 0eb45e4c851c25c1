// The late-credit-after-refund tests' shared world (late-credit-refunded, refund-after-late-credit):
// each account's October runs a standard-1x dyno (25.00, the monthly price) and November has usage
// of its own; runs finalize with their invoices dated back (late-runs.ts); October is paid as the
// charger and the gateway do; a stop timed October 2 is learned between October's run and
// November's; and the gateway's refund and dispute events are delivered to the real handler.
import assert from 'node:assert/strict';
import { Decimal } from 'decimal.js';
import type pg from 'pg';
import { type Logger, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import type { ChargeRow } from '../src/charging/decide.ts';
import { saveCharge } from '../src/charging/store.ts';
import { handleGatewayEvent } from '../src/charging/webhooks.ts';
import { disputeMade, fixtureDisputes } from './charging-fixture.ts';
import { finalizeAt } from './late-runs.ts';
import { billingDatabase, seedOwners, seedStop, seedUsage } from './seed.ts';

const prices = loadPriceBook();

/** An October invoice paid through the webhook handler: its PaymentIntent and what it charged. */
export type PaidOctober = { id: string; pi: string; cents: number };

/** The billing database, invoices writable so each run's can be dated back to it. */
export async function lateCreditDatabase(): Promise<TestDatabase> {
  const db = await billingDatabase();
  // Each run's invoices are dated back to their run (late-runs.ts), so only what the run's threshold
  // lets in is late: the dispute won, not the stop a run already carried.
  await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
  return db;
}

/**
 * The steps over the database `pool` gives (made in `before`). `paymentMethod` is the card October is
 * paid with; `log` what the handler logs to (none: a fresh memory logger for each event).
 */
export function lateCreditWorld(pool: () => pg.Pool, o: { paymentMethod: string; log?: Logger }) {
  /** Finalizes `period` as of `clock` (the 4th of the next month), its invoices dated then. */
  const finalize = (period: string, clock: string) => finalizeAt(pool(), prices, period, clock);
  const deliver = (id: string, type: string, object: object) =>
    handleGatewayEvent(
      { pool: pool(), log: o.log ?? memoryLogger(), disputes: fixtureDisputes(pool()) },
      { id, type, created: Math.floor(Date.now() / 1000), data: { object } },
    );

  /** Each account's October running a dyno all month (until a stop arrives late) and its own November usage. */
  async function seedMonths(accounts: readonly string[]): Promise<void> {
    for (const account of accounts) {
      const app = `${account}-app`;
      await seedOwners(pool(), [{ app, account, from: '2025-10-01T00:00:00Z', learnedAt: '2025-10-01T00:00:00Z' }]);
      await seedUsage(pool(), [
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
  }

  /** The account's October dyno stopped October 2, learned between October's run and November's. */
  async function stopLearnedLate(account: string): Promise<void> {
    await seedStop(pool(), `${account}-app`, 'web.1', '2025-10-02T00:00:00Z');
    await pool().query(`update metering.usage_intervals set learned_at = '2025-11-20T00:00:00Z' where app_id = $1 and key = 'web.1'`, [
      `${account}-app`,
    ]);
  }

  /** Pays the account's October invoice as the charger and the gateway do. */
  async function pay(account: string): Promise<PaidOctober> {
    const { rows } = await pool().query<{ id: string; total: string }>(
      `select id, total::text from invoicing.invoices where account_id = $1 and period = '2025-10'`,
      [account],
    );
    const invoice = rows[0]!;
    const pi = `pi_${invoice.id}`;
    const cents = Number(new Decimal(invoice.total).times(100));
    const scheduled: ChargeRow = {
      paymentIntentId: pi,
      state: 'scheduled',
      attempts: 0,
      roundStart: 0,
      pendingPaymentMethodId: o.paymentMethod,
      lastPaymentMethodId: null,
      lastAttemptAt: null,
      nextAttemptAt: new Date(),
      lastErrorCode: null,
      lastErrorMessage: null,
      lastDeclineCode: null,
    };
    await saveCharge({ pool: pool() }, invoice.id, scheduled);
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

  /** charge.refunded of the invoice's charge, `cents` refunded in all. */
  const refund = (invoice: { id: string; pi: string }, cents: number) =>
    deliver(`evt_rf_${invoice.id}_${cents}`, 'charge.refunded', {
      id: `ch_${invoice.id}`,
      object: 'charge',
      payment_intent: invoice.pi,
      amount_refunded: cents,
      currency: 'usd',
    });

  /** The dispute of the invoice's charge for `cents`, made at the gateway: the object its events carry. */
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

  return { finalize, deliver, seedMonths, stopLearnedLate, pay, refund, dispute };
}
