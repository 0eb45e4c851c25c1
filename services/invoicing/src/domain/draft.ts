// One account's draft for a month from what the SQL gathered for it: its usage
// priced, its late-usage adjustments, the small totals it carries, the holds
// on it and its credit. computeDrafts (the drafts API) and finalize's chunks
// both build every draft here, so a draft shows what finalize will write.
import type { Hold, PriceBook } from '@vault/contracts';
import { Money } from './money.ts';
import { carriedLine, carriesInto, type CreditLot, isBelowMinimum, lotsAfter, remainderLot, type SmallInvoice } from './credit.ts';
import { draftInvoice, unpricedHolds, type DraftInvoice } from './invoice.ts';
import { priceLines, type PricedLine } from './lines.ts';
import type { Period } from './period.ts';
import type { LineUsage } from './usage.ts';

export interface AccountFacts {
  account: string;
  usage: readonly LineUsage[];
  adjustments: readonly PricedLine[];
  /** Holds from metering's side (gaps, unowned usage); unpriced holds come from pricing. */
  holds: readonly Hold[];
  /** The credit balance to settle with (none for the holds report). */
  lots: readonly CreditLot[];
  /** Its finalized invoices below the gateway's minimum, waiting to be carried. */
  small: readonly SmallInvoice[];
}

export interface DraftTerms {
  period: Period;
  prices: PriceBook;
  /** The gateway's smallest charge, "0.50". */
  minimum: string;
}

export function assembleDraft(facts: AccountFacts, terms: DraftTerms): DraftInvoice {
  const { period, prices, minimum } = terms;
  const lines = [...priceLines(facts.usage, period, prices), ...facts.adjustments];
  // A small total rides along with an invoice the account gets anyway; it never makes one on its own.
  const carried = lines.length === 0 ? [] : facts.small.filter((x) => carriesInto(x, period));
  lines.push(...carried.map((x) => carriedLine(x, minimum, prices.currency)));
  const holds = [...facts.holds, ...unpricedHolds(lines)];
  return draftInvoice(facts.account, period, prices.currency, lines, holds, facts.lots);
}

/** Finalize writes a draft when nothing holds it and it has something to bill. */
export const isReady = (draft: DraftInvoice): boolean => draft.holds.length === 0 && draft.lines.length > 0;

/** What of an account's facts rides with one invoice only, the next one it gets: adjustments, small totals, credit. */
export type RidingFacts = Pick<AccountFacts, 'adjustments' | 'lots' | 'small'>;

/**
 * The facts left for a month's draft when the month before it has ended and
 * has no invoice of the account yet: finalize settles that month first, so
 * its draft (`previous`, built from the same facts) takes its share of them
 * first. When it is ready (not held, something to bill), its adjustments and
 * carried lines are not repeated, each lot is less what it uses, a negative
 * subtotal leaves its rest as a lot as finalize records it (never expiring,
 * dated `settledAt`: when that month is settled, the later of now and its due
 * time) and a total below the minimum is carried as that month's line. A held
 * month takes nothing: whether it is released before this one is finalized is
 * not known (docs/contracts/invoicing.md, Credits); one with nothing to bill
 * gets no invoice.
 */
export function afterPrevious(previous: DraftInvoice, facts: RidingFacts, terms: { minimum: string; settledAt: Date }): RidingFacts {
  if (!isReady(previous)) return facts;
  const lineId = (l: PricedLine) => JSON.stringify([l.kind, l.adjusts ?? null, l.app_id, l.key, l.product]);
  const taken = new Set(previous.lines.filter((l) => l.kind === 'adjustment' || l.kind === 'carried').map(lineId));
  const adjustments = facts.adjustments.filter((l) => !taken.has(lineId(l)));
  const small = facts.small.filter((x) => x.number === null || !taken.has(lineId(carriedLine(x, terms.minimum, previous.currency))));
  if (isBelowMinimum(previous.total, terms.minimum)) small.push({ number: null, period: previous.period, total: previous.total });
  const lots = lotsAfter(facts.lots, previous.creditUses);
  if (new Money(previous.subtotal).lt(0)) lots.push(remainderLot(`remainder:${previous.id}`, previous.subtotal, terms.settledAt));
  return { adjustments, lots, small };
}
