import { DateTime } from 'luxon';
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import type { Logger } from '@vault/runtime';
import type { Billing, UsageDay } from './types.ts';
import { computeDrafts } from './compute-drafts.ts';
import { creditBalance, grant } from './credits.ts';
import { publicInvoice } from '../domain/invoice.ts';
import { Money, monthsOf, toCents } from '../domain/money.ts';
import { parsePeriod, periodContaining, type Period } from '../domain/period.ts';
import { finalizePeriod } from './finalize.ts';
import { finalizedInvoice, finalizedInvoices } from './invoice-store.ts';
import { readAccountDays } from './account-usage.ts';
import { readDailyUsage } from './line-usage.ts';

export interface BillingDeps {
  pool: pg.Pool;
  prices: PriceBook;
  graceHours: number;
  /** The clock; tests fix it. */
  now?: () => DateTime;
  log?: Logger;
}

export function createBilling(deps: BillingDeps): Billing {
  const now = deps.now ?? (() => DateTime.utc());
  const periodOf = (key?: string): Period => (key ? parsePeriod(key) : periodContaining(now()));
  const credits = { pool: deps.pool, currency: deps.prices.currency, now };

  async function draftUntil(accountId: string, period: Period, until: Date) {
    const scope = { period, until, accounts: [accountId], adjustments: true, creditAt: now().toJSDate() };
    const { drafts } = await computeDrafts(deps.pool, deps.prices, scope);
    // computeDrafts gives every account it is asked about a draft, empty or not.
    return drafts.get(accountId)!;
  }

  return {
    currentPeriod: () => periodOf().key,

    async draft(accountId, periodKey) {
      const period = periodOf(periodKey);
      const finalized = await finalizedInvoice(deps.pool, { accountId, period: period.key });
      return finalized ?? publicInvoice(await draftUntil(accountId, period, now().toJSDate()));
    },

    async projection(accountId) {
      const period = periodOf();
      return publicInvoice(await draftUntil(accountId, period, period.end.toJSDate()));
    },

    async usagePerDay(accountId, periodKey) {
      const period = periodOf(periodKey);
      const until = DateTime.min(period.end, now());
      const days: { from: Date; to: Date; day: string }[] = [];
      for (let d = period.start; d < until; d = d.plus({ days: 1 })) {
        days.push({ from: d.toJSDate(), to: DateTime.min(d.plus({ days: 1 }), until).toJSDate(), day: d.toISODate()! });
      }
      const amounts = days.map(() => new Money(0));
      const window = { account: accountId, from: period.start.toJSDate(), to: until.toJSDate() };
      const usage = (await readAccountDays(deps.pool, window)) ?? (await readDailyUsage(deps.pool, accountId, days));
      for (const u of usage) {
        const price = deps.prices.products[u.product];
        // Before the monthly cap: what the day's usage accrues at the monthly price.
        if (price !== undefined) amounts[u.day] = amounts[u.day]!.plus(monthsOf(u.ms, period.seconds).times(price));
      }
      return days.map((d, i): UsageDay => ({ day: d.day, amount: toCents(amounts[i]!) }));
    },

    invoices: (accountId) => finalizedInvoices(deps.pool, accountId),
    invoice: (id) => finalizedInvoice(deps.pool, { id }),

    async holds(periodKey, accountId) {
      const period = parsePeriod(periodKey);
      const scope = { period, until: now().toJSDate(), accounts: accountId === undefined ? undefined : [accountId], unfinalizedOnly: true };
      const { drafts, ownerless } = await computeDrafts(deps.pool, deps.prices, scope);
      const held = [...drafts.values()]
        .filter((d) => d.holds.length > 0)
        .map((d) => ({ account_id: d.account_id as string | null, period: period.key, holds: d.holds }));
      if (ownerless.length > 0) held.push({ account_id: null, period: period.key, holds: ownerless });
      return { period: period.key, held };
    },

    finalize: (periodKey) => finalizePeriod({ ...deps, now }, parsePeriod(periodKey)),
    balance: (accountId) => creditBalance(credits, accountId),
    grantCredit: (accountId, request) => grant(credits, accountId, request),
  };
}
