// How many accounts of a month are held when its invoices or lines are
// exported: their invoices are not in the file, and join the month (numbered
// after the others) once the hold clears, so the file is that month so far.
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import { usageHorizon } from '../billing/final-months.ts';
import { heldDrafts } from '../billing/holds-report.ts';
import { MeteringNotReadyError, requireMetering } from '../billing/metering-schema.ts';
import { parsePeriod } from '../domain/period.ts';

/** The month's holds as GET /v1/holds?period= counts them, or why they could not be counted. */
export type HeldCount = { accounts: number; ownerless: boolean } | { unknown: string };

/**
 * The holds report's count for `period` as of `now` (finance's view, every
 * account): accounts with no invoice of the month whose draft is held, and
 * whether usage no account owned holds it too. A month before the usage
 * horizon is final: nothing of it is held. Without metering's schema nothing
 * can be said: `unknown`.
 */
export async function heldOfMonth(pool: pg.Pool, prices: PriceBook, period: string, now: Date): Promise<HeldCount> {
  try {
    await requireMetering(pool);
  } catch (err) {
    if (err instanceof MeteringNotReadyError) return { unknown: "metering's schema is not in this database" };
    throw err;
  }
  const horizon = await usageHorizon(pool);
  if (horizon !== null && period < horizon) return { accounts: 0, ownerless: false };
  const month = parsePeriod(period);
  const scope = { period: month, until: now, adjustments: month.start.toJSDate() <= now };
  const { drafts, ownerless } = await heldDrafts(pool, prices, scope);
  return { accounts: drafts.length, ownerless: ownerless.length > 0 };
}

/** Whether the file may change when holds clear. */
export const anyHeld = (h: HeldCount | undefined): boolean => h !== undefined && 'accounts' in h && (h.accounts > 0 || h.ownerless);

/**
 * The words for it, for stderr and the control row's note: "2 accounts held,
 * not in this file: the export changes when the holds clear (GET
 * /v1/holds?period=2026-10)". Undefined when nothing is held.
 */
export function describeHeld(h: HeldCount | undefined, period: string): string | undefined {
  if (h === undefined) return undefined;
  if ('unknown' in h) return `held accounts not counted: ${h.unknown}`;
  if (!anyHeld(h)) return undefined;
  const accounts = h.accounts === 1 ? '1 account held' : `${h.accounts} accounts held`;
  const what = h.accounts === 0 ? 'usage no account owned held' : h.ownerless ? `${accounts} and usage no account owned` : accounts;
  return `${what}, not in this file: the export changes when the holds clear (GET /v1/holds?period=${period})`;
}
