// The months whose credits.csv was taken (migration 038): noted by the export,
// the first time, while it holds the ledger's locks (exports/credits-final.ts);
// read by every writer dating a ledger entry by its own clock (a grant, a
// reversal, a finalize run), once it holds its lock and has read that clock.
// The export waits CREDITS_CLOCK_MARGIN_SECONDS past the month's end by its
// clock; a writer further behind would date an entry in a month finance has
// booked, so it is refused, writing nothing. Not re-dated: an entry's date is
// the clock its writer read (balances and expiries are reckoned as of it), and
// a clock that far off should be set right, not worked around.
import { DateTime } from 'luxon';
import type pg from 'pg';
import { periodContaining } from '../domain/period.ts';

type Db = pg.Pool | pg.PoolClient;

/** A month whose credits.csv was taken, and when by the exporter's clock. */
export interface TakenMonth {
  period: string;
  takenAt: Date;
}

/** A grant, reversal or finalize run whose clock dates its entries in a month whose credits.csv was taken: 409, nothing written. */
export class EntryInTakenMonthError extends Error {
  /** The HTTP error handler reads it. */
  readonly statusCode = 409;
  constructor(
    readonly writer: string,
    readonly at: Date,
    readonly taken: TakenMonth,
    /** A grant's expiry in the month, rather than its date: its `expired` entry would be dated there. */
    expiresAt?: Date,
  ) {
    const why =
      expiresAt === undefined
        ? `this process's clock says ${at.toISOString()}, in ${taken.period}`
        : `it would expire at ${expiresAt.toISOString()}, in ${taken.period} (this process's clock says ${at.toISOString()})`;
    super(
      `${writer} refused: ${why}, whose credits.csv was already taken (at ${taken.takenAt.toISOString()} by the exporting clock) ` +
        `and may be booked: an entry dated in ${taken.period} would change it. ` +
        (expiresAt === undefined
          ? 'This clock is behind: set it right (NTP) and try again; nothing was written'
          : 'Give it a later expiry; nothing was written'),
    );
  }
}

/** The month `at` falls in, when its credits.csv was taken; undefined otherwise. */
export async function takenMonthOf(db: Db, at: Date): Promise<TakenMonth | undefined> {
  const period = periodContaining(DateTime.fromJSDate(at, { zone: 'utc' })).key;
  const { rows } = await db.query<{ taken_at: Date }>('select taken_at from invoicing.credits_taken where period = $1', [period]);
  return rows[0] ? { period, takenAt: rows[0].taken_at } : undefined;
}

/**
 * Throws EntryInTakenMonthError when an entry dated `at` would fall in a month
 * whose credits.csv was taken. Call it holding the writer's lock, after reading
 * `at`: the export notes its month before it lets go of the locks, so a writer
 * that gets them after sees the note.
 */
export async function refuseTakenMonth(db: Db, writer: string, at: Date): Promise<void> {
  const taken = await takenMonthOf(db, at);
  if (taken) throw new EntryInTakenMonthError(writer, at, taken);
}

/** The database refused to note a month its clock has not seen end (migration 040): the exporter's clock is ahead. */
export class MonthNotEndedError extends Error {}

/**
 * Notes `period` as taken at `at` (the exporter's clock), once: a later export changes nothing.
 * A role that may insert into credits_taken (the app's) does so; a SELECT-only export role goes
 * through note_credits_taken (migration 040: EXECUTE granted to it, and a month the database's
 * clock has not seen end refused). The guard is the function's: a role that may insert could write
 * any row anyway, and tests with an injected clock export months to come as the owner.
 */
export async function noteCreditsTaken(client: pg.PoolClient, period: string, at: Date): Promise<void> {
  const { rows } = await client.query<{ direct: boolean }>(`select has_table_privilege('invoicing.credits_taken', 'INSERT') as direct`);
  if (rows[0]!.direct) {
    await client.query('insert into invoicing.credits_taken (period, taken_at) values ($1, $2) on conflict (period) do nothing', [
      period,
      at,
    ]);
    return;
  }
  await client.query('select invoicing.note_credits_taken($1, $2)', [period, at]).catch((err: unknown) => {
    // 55000: the month not over by the database's clock.
    if ((err as { code?: string }).code === '55000') throw new MonthNotEndedError((err as Error).message);
    throw err;
  });
}
