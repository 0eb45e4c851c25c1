// One account's draft for a month from what the SQL gathered for it: its usage
// priced, its late-usage adjustments, the small totals it carries, the holds
// on it and its credit. computeDrafts (the drafts API) and finalize's chunks
// both build every draft here, so a draft shows what finalize will write.
import type { Hold, PriceBook } from '@vault/contracts';
import { carriedLine, carriesInto, type CreditLot, type SmallInvoice } from './credit.ts';
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
