// The holds report for every account (GET /v1/holds for finance and the admin):
// the accounts that may be held are found in SQL from what can hold a draft,
// then only their drafts are computed, a chunk of accounts at a time, by
// computeDrafts scoped to them. Memory grows with what is held, not with the
// month: a month of 100,000 accounts with nothing held prices no draft.
import type pg from 'pg';
import type { Hold, PriceBook } from '@vault/contracts';
import { compareAccounts } from '../domain/account-order.ts';
import type { DraftInvoice } from '../domain/invoice.ts';
import type { Period } from '../domain/period.ts';
import { computeDrafts } from './compute-drafts.ts';
import { readHolds } from './holds.ts';
import { LATE_CANDIDATES } from './late-usage.ts';
import { LATE_MARGIN_INTERVAL, reachesFrom } from './sql.ts';

/** Accounts drafted per computeDrafts call: its scoped statements take the accounts as an array. */
export const HELD_CHUNK_ACCOUNTS = 1_000;

/** No invoice of the period `period` (an SQL text) for the account `account` (an SQL expression). */
const UNFINALIZED = (account: string, period: string) =>
  `not exists (select 1 from invoicing.invoices i where i.account_id = ${account} and i.period = ${period})`;

/**
 * Accounts without an invoice of the period ($4) that own, in the window [$1, $2),
 * an app with usage in it of a product the price book has no price for ($3: the
 * priced products): its line is unpriced (priceLine) and holds the draft. Only
 * that usage is joined with its owners: a month with every product priced reads
 * no ownership.
 */
export const UNPRICED_USAGE_ACCOUNTS = `
  select distinct o.account_id
    from (select tstzrange($1::timestamptz, $2::timestamptz, '[)') as r) w
    join metering.billable_usage u on u.during && w.r and ${reachesFrom('u', '$1::timestamptz')} and u.product <> all($3::text[])
    join metering.billable_ownership o on o.app_id = u.app_id and o.during && u.during and o.during && w.r
   where ${UNFINALIZED('o.account_id', '$4')}`;

/**
 * Accounts without an invoice of the period ($4) whose late-usage candidates
 * (LATE_CANDIDATES: $1 before, $2 null, $3 the margin) include a finalized month
 * in which the account owned an app with usage of a product the price book has
 * no price for ($5: the priced products). Only such usage can give an
 * adjustment line without a price (lateAdjustments recomputes the month from
 * the account's owned usage; a finalized line always has its price), which
 * holds the draft. Any app the account owned, not only the candidate's: the
 * month is recomputed over every app it charged too.
 */
export const UNPRICED_LATE_ACCOUNTS = `
  with candidates as (select distinct c.account_id, c.period from (${LATE_CANDIDATES}) c)
  select c.account_id
    from candidates c
    join invoicing.invoices m on m.account_id = c.account_id and m.period = c.period
   where ${UNFINALIZED('c.account_id', '$4')}
     and exists (
       select 1 from metering.billable_ownership o
         join metering.billable_usage u on u.app_id = o.app_id and u.during && o.during
        where o.account_id = c.account_id collate "default"
          and o.during && tstzrange(m.period_start, m.period_end, '[)')
          and u.during && tstzrange(m.period_start, m.period_end, '[)')
          and ${reachesFrom('u', 'm.period_start')}
          and u.product <> all($5::text[]))`;

export interface HoldsScope {
  period: Period;
  /** Usage counts up to this instant, at most to the period's end. */
  until: Date;
  /** Whether late-usage adjustments ride on the month's drafts (an unpriced one holds them). */
  adjustments: boolean;
}

/**
 * The accounts whose draft of the month something may hold, in account order:
 * a gap or unowned usage on one of their apps (readHolds), usage of a product
 * without a price, or late usage of one (an unpriced adjustment) — the only
 * holds assembleDraft gives — and the holds of usage no account owned. Rows of
 * what holds only: a superset of the held accounts, finalized ones perhaps.
 */
export async function holdCandidates(
  db: pg.Pool,
  prices: PriceBook,
  scope: HoldsScope,
): Promise<{ accounts: string[]; ownerless: Hold[] }> {
  const { period } = scope;
  const from = period.start.toJSDate();
  const to = new Date(Math.min(period.end.toMillis(), scope.until.getTime()));
  const priced = Object.keys(prices.products);
  const accounts = new Set<string>();
  const ownerless: Hold[] = [];
  for (const { account_id, ...hold } of await readHolds(db, { from, to })) {
    if (account_id === null) ownerless.push(hold);
    else accounts.add(account_id);
  }
  const found = await Promise.all([
    to > from ? db.query<{ account_id: string }>(UNPRICED_USAGE_ACCOUNTS, [from, to, priced, period.key]) : undefined,
    scope.adjustments
      ? db.query<{ account_id: string }>(UNPRICED_LATE_ACCOUNTS, [from, null, LATE_MARGIN_INTERVAL, period.key, priced])
      : undefined,
  ]);
  for (const result of found) for (const r of result?.rows ?? []) accounts.add(r.account_id);
  return { accounts: [...accounts].sort(compareAccounts), ownerless };
}

/**
 * Every account's held draft of a month, as computeDrafts for all accounts
 * (unfinalizedOnly) gives them, in account order, and the holds of usage no
 * account owned: only holdCandidates' accounts are drafted, a chunk at a time.
 */
export async function heldDrafts(
  db: pg.Pool,
  prices: PriceBook,
  scope: HoldsScope,
): Promise<{ drafts: DraftInvoice[]; ownerless: Hold[] }> {
  const { accounts, ownerless } = await holdCandidates(db, prices, scope);
  const drafts: DraftInvoice[] = [];
  for (let i = 0; i < accounts.length; i += HELD_CHUNK_ACCOUNTS) {
    const chunk = accounts.slice(i, i + HELD_CHUNK_ACCOUNTS);
    const computed = await computeDrafts(db, prices, { ...scope, accounts: chunk, unfinalizedOnly: true });
    // A candidate whose draft is not held (or that is finalized) is left out.
    for (const account of chunk) {
      const draft = computed.drafts.get(account);
      if (draft && draft.holds.length > 0) drafts.push(draft);
    }
  }
  return { drafts, ownerless };
}
