import { DateTime } from 'luxon';
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import type { Logger } from '@vault/runtime';
import type { Billing, UsageDay } from './types.ts';
import { accountView } from './account-drafts.ts';
import { computeDrafts } from './compute-drafts.ts';
import { heldDrafts } from './holds-report.ts';
import { balanceLots, creditBalance, grant, reverse } from './credits.ts';
import { dueAt, publicInvoice } from '../domain/invoice.ts';
import { Money, partsInCents, priceShare } from '../domain/money.ts';
import { parsePeriod, periodContaining, previousPeriod, type Period } from '../domain/period.ts';
import { usageHorizon } from './final-months.ts';
import { finalizePeriod } from './finalize.ts';
import { chargedLines, finalizedInvoice, finalizedInvoices } from './invoice-store.ts';
import { chargedPrices } from '../domain/lines.ts';

export interface BillingDeps {
  pool: pg.Pool;
  /** Where an account's view of a month is read (main.ts: sessions keeping generic plans); default `pool`. */
  viewPool?: pg.Pool;
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

  /**
   * The instant a draft's credit is settled at: the month is finalized no earlier than its due
   * time, and finalize first writes off every lot expired by its run, so a lot that expires
   * before then is never applied to it (docs/contracts/invoicing.md, Credits: a draft shows the
   * credit it would use). A month already due is settled as of now, as a run now would.
   */
  const creditAtOf = (period: Period) => DateTime.max(now(), dueAt(period, deps.graceHours)).toJSDate();

  /**
   * The account's view of a month from the aggregates, in one round trip (account-drafts.ts). Once
   * the month before has ended, finalize settles it first unless the account has an invoice of it:
   * its draft takes its adjustments, carried totals and credit first (`previous`; one more round
   * trip while it has usage and no invoice). `daysOnly`: the chart's days, which none of that changes.
   */
  function view(accountId: string, period: Period, asked: { until: Date; projection?: boolean; days?: boolean; daysOnly?: boolean }) {
    const { daysOnly, ...wanted } = asked;
    const before = previousPeriod(period);
    const previous = !daysOnly && before.end <= now() ? { period: before, creditAt: creditAtOf(before) } : undefined;
    return accountView(deps.viewPool ?? deps.pool, deps.prices, {
      account: accountId,
      period,
      creditAt: creditAtOf(period),
      ...wanted,
      ...(previous ? { previous } : {}),
    });
  }

  /** A month that has ended may have a finalized invoice; the current one never has. */
  const finalizedFor = (accountId: string, period: Period) =>
    period.end <= now() ? finalizedInvoice(deps.pool, { accountId, period: period.key }) : Promise.resolve(undefined);

  /**
   * The prices a month's chart is drawn at: the book's, but a finalized month's products at the
   * prices it charged (chargedPrices, as its late usage is recomputed), so a price changed since
   * never re-prices its days. Only an ended month may have an invoice; without one, the book's.
   */
  const dayPrices = async (accountId: string, period: Period): Promise<PriceBook> =>
    period.end <= now()
      ? chargedPrices(deps.prices, (await chargedLines(deps.pool, period.key, [accountId])).get(accountId) ?? [])
      : deps.prices;

  /** The chart's bars: each day's usage priced at the monthly price (`prices`: dayPrices), before the cap. */
  function pricedDays(period: Period, rows: readonly { day: number; product: string; ms: number }[], prices: PriceBook): UsageDay[] {
    const until = DateTime.min(period.end, now());
    const days: string[] = [];
    for (let d = period.start; d < until; d = d.plus({ days: 1 })) days.push(d.toISODate()!);
    const amounts = days.map(() => new Money(0));
    for (const u of rows) {
      const price = prices.products[u.product];
      if (price !== undefined && u.day < amounts.length) amounts[u.day] = amounts[u.day]!.plus(priceShare(u.ms, period.seconds, price));
    }
    // The days add up to the month's exact amount rounded once (partsInCents); the draft rounds each line.
    const shown = partsInCents(amounts);
    return days.map((day, i): UsageDay => ({ day, amount: shown[i]! }));
  }

  return {
    currentPeriod: () => periodOf().key,

    async draft(accountId, periodKey) {
      const period = periodOf(periodKey);
      const finalized = await finalizedFor(accountId, period);
      return finalized ?? publicInvoice((await view(accountId, period, { until: now().toJSDate() })).draft);
    },

    async projection(accountId) {
      const period = periodOf();
      return publicInvoice((await view(accountId, period, { until: period.end.toJSDate() })).draft);
    },

    async usagePerDay(accountId, periodKey) {
      const period = periodOf(periodKey);
      // Before the usage horizon its days are archived (vault archive deletes them).
      const horizon = period.key === periodOf().key ? null : await usageHorizon(deps.pool);
      if (horizon !== null && period.key < horizon) return [];
      const [seen, prices] = await Promise.all([
        view(accountId, period, { until: now().toJSDate(), days: true, daysOnly: true }),
        dayPrices(accountId, period),
      ]);
      return pricedDays(period, seen.days!, prices);
    },

    async usageView(accountId, periodKey) {
      const period = periodOf(periodKey);
      const current = period.key === periodOf().key;
      // Before the usage horizon the month is final: its invoice, and its days archived (dropped by vault archive).
      const horizon = current ? null : await usageHorizon(deps.pool);
      if (horizon !== null && period.key < horizon) {
        const finalized = await finalizedFor(accountId, period);
        if (finalized) return { draft: finalized, days: [], archived: true };
      }
      const [finalized, seen, prices] = await Promise.all([
        finalizedFor(accountId, period),
        view(accountId, period, { until: now().toJSDate(), days: true, projection: current }),
        dayPrices(accountId, period),
      ]);
      return {
        draft: finalized ?? publicInvoice(seen.draft),
        days: pricedDays(period, seen.days!, prices),
        projection: seen.projection && publicInvoice(seen.projection),
      };
    },

    invoices: (accountId) => finalizedInvoices(deps.pool, accountId),
    invoice: (id) => finalizedInvoice(deps.pool, { id }),

    async holds(periodKey, accountId) {
      const period = parsePeriod(periodKey);
      // A month before the usage horizon is final: nothing of it is held (final-months.ts), and its usage is archived.
      const horizon = await usageHorizon(deps.pool);
      if (horizon !== null && period.key < horizon) return { period: period.key, held: [] };
      // Adjustments too: late usage of a product without a price holds the invoice carrying it,
      // the current month's (a month yet to come carries none: its draft is empty).
      const until = now().toJSDate();
      const scope = { period, until, adjustments: period.start.toJSDate() <= until };
      // Every account's (finance, the admin): only the accounts something can hold are drafted (holds-report.ts).
      const { drafts, ownerless } =
        accountId === undefined
          ? await heldDrafts(deps.pool, deps.prices, scope)
          : await computeDrafts(deps.pool, deps.prices, { ...scope, accounts: [accountId], unfinalizedOnly: true });
      const held = [...drafts.values()]
        .filter((d) => d.holds.length > 0)
        .map((d) => ({ account_id: d.account_id as string | null, period: period.key, holds: d.holds }));
      if (ownerless.length > 0) held.push({ account_id: null, period: period.key, holds: ownerless });
      return { period: period.key, held };
    },

    finalize: (periodKey, opts) => finalizePeriod({ ...deps, now }, parsePeriod(periodKey), opts),
    balance: (accountId) => creditBalance(credits, accountId),
    balanceLots: (accountId) => balanceLots(credits, accountId),
    grantCredit: (accountId, request) => grant(credits, accountId, request),
    reverseCredit: (accountId, grantId, request, opts) => reverse(credits, accountId, grantId, request, opts),
  };
}
