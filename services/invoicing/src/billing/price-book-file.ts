import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { PriceBook } from '@vault/contracts';
import { CURRENCIES_WITH_MINIMUM } from '@vault/gateway/charge-minimums';
import { hasCents, hasKnownMinimum } from '../charging/amount.ts';

/** The price book the project ships (a copy of shared/spec/price-book.json). */
export const DEFAULT_PRICE_BOOK = fileURLToPath(new URL('../../data/price-book.json', import.meta.url));

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'a directory, not a file',
};

/** A price book that cannot be used: names PRICE_BOOK, the variable that points at it. */
export class PriceBookError extends Error {
  readonly variable = 'PRICE_BOOK';
}

/** Reads and checks a price book file (`PRICE_BOOK`, else the default); the error names the file and the field. */
export function loadPriceBook(path: string = DEFAULT_PRICE_BOOK): PriceBook {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PriceBookError(`price book ${path}: ${READ_ERRORS[code ?? ''] ?? (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new PriceBookError(`price book ${path}: not JSON (${(err as Error).message})`);
  }
  const parsed = PriceBook.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new PriceBookError(`price book ${path}: ${issues.join('; ')}`);
  }
  // Amounts are rounded to cents: a currency counted otherwise could never be charged (JPY 225.81).
  if (!hasCents(parsed.data.currency)) {
    throw new PriceBookError(
      `price book ${path}: currency: ${parsed.data.currency} does not count in hundredths; amounts are kept with two decimals (USD, EUR, GBP, …)`,
    );
  }
  // What is too small to charge comes from the gateway's minimum: guessed, a total below the real one would be
  // sent, refused as amount_too_small, retried to past_due, and the account suspended with a good card.
  if (!hasKnownMinimum(parsed.data.currency)) {
    const known = CURRENCIES_WITH_MINIMUM.filter(hasCents).sort().join(', ');
    throw new PriceBookError(
      `price book ${path}: currency: ${parsed.data.currency} has no known minimum charge at the gateway, so invoicing cannot tell which totals are too small to charge; use one of ${known}`,
    );
  }
  return parsed.data;
}

/** loadPriceBook, checked against the currency the database bills in (checkBilledCurrency). */
export async function loadBilledPriceBook(db: { query: pg.Pool['query'] }, path?: string): Promise<PriceBook> {
  const prices = loadPriceBook(path);
  await checkBilledCurrency(db, prices, path);
  return prices;
}

/**
 * Refuses a price book whose currency is not the one the database already
 * bills in: its invoices and credit are amounts in that currency, and a grant
 * in one must never pay an invoice in another. Any row says which: every row
 * was written under this check.
 */
export async function checkBilledCurrency(db: { query: pg.Pool['query'] }, prices: PriceBook, path = DEFAULT_PRICE_BOOK): Promise<void> {
  const { rows } = await db.query<{ currency: string }>(
    `(select currency from invoicing.invoices limit 1) union all (select currency from invoicing.credit_entries limit 1)`,
  );
  const billed = rows.find((r) => r.currency !== prices.currency);
  if (billed) {
    throw new PriceBookError(
      `price book ${path}: currency: ${prices.currency}, but this database bills in ${billed.currency} (its invoices and credit); a price book may not change the currency`,
    );
  }
}
