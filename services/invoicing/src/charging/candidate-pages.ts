// The charging pass's candidates a page at a time (keyset on (finalized_at, number), the order
// the pass has always charged in), so no statement or list holds every invoice due at once.
import type pg from 'pg';
import { chargeCandidates } from './candidates.ts';
import type { Candidate } from './store.ts';

/** Candidates read at a time when the pass is not told otherwise. */
export const CANDIDATE_PAGE = 1000;

/**
 * The candidates due at `now` (one instant for every page: the same set a single read at the
 * pass's start would give, less what changed meanwhile), page after page; the caller finishes a
 * page before asking for the next, which starts after the last invoice of the one before. An
 * invoice a page's work made due again (a retry scheduled, a card added) is left for the next
 * pass, as it was when all were read at once.
 */
export async function* candidatePages(
  pool: pg.Pool,
  now: Date,
  authenticationWindow: number,
  limit = CANDIDATE_PAGE,
): AsyncGenerator<Candidate[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`candidatePage must be a positive integer, got ${limit}`);
  let after: Awaited<ReturnType<typeof chargeCandidates>>['cursor'];
  for (;;) {
    const page = await chargeCandidates(pool, now, authenticationWindow, { ...(after ? { after } : {}), limit });
    if (page.length > 0) yield page;
    if (page.length < limit || !page.cursor) return;
    after = page.cursor;
  }
}
