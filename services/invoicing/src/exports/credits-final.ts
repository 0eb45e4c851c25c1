// When a month's credits.csv is final: no entry dated in the month can be
// written any more. The ledger's writers and the dates they give:
//  - a grant and a reversal: their own instant, read once they hold their lock
//    (a grant GRANT_LOCK shared, a reversal FINALIZE_LOCK) and committed before
//    they let go, so the check (which holds both) never passes between the two;
//  - a finalize run's `applied` and `invoice_remainder` entries: the run's start,
//    committed chunk by chunk while the run holds FINALIZE_LOCK;
//  - `expired`: the lot's expiry, written by the first finalize run after it.
// So after the month's end a run that started in it may still be writing, and
// an expiry in it is written at the next run: credits.csv waits for both.
// Once taken, the month is noted (takeCreditsMonth, migration 038): a writer
// whose clock is further behind than the margin is refused rather than date an
// entry in it (billing/credits-taken.ts).
import type pg from 'pg';
import { FINALIZE_LOCK } from '../billing/finalize.ts';
import { MonthNotEndedError, noteCreditsTaken } from '../billing/credits-taken.ts';
import { GRANT_LOCK } from '../billing/grant-lock.ts';
import { parsePeriod } from '../domain/period.ts';

/** When an export refused because the ledger is still being written is told to come back (Retry-After). */
export const LEDGER_RETRY_AFTER_SECONDS = 30;

/** How long an export waits for a finalize run or a credit reversal to let go of the ledger before it is refused. */
export const DEFAULT_LEDGER_WAIT_MS = 5_000;

/** credits.csv of a month whose ledger entries may still change. A 409 (the HTTP error handler reads it). */
export class CreditsNotFinalError extends Error {
  readonly statusCode = 409;
  constructor(
    message: string,
    /** When the refusal ends by itself (the month's end); undefined: at the next finalize run. */
    readonly retryAt?: Date,
  ) {
    super(message);
  }

  /** Seconds until the export may succeed, at least 1 (Retry-After). */
  retryAfterSeconds(now: Date): number {
    if (this.retryAt === undefined) return LEDGER_RETRY_AFTER_SECONDS;
    return Math.max(1, Math.ceil((this.retryAt.getTime() - now.getTime()) / 1000));
  }
}

/**
 * How long after a month's end its credits.csv is final. Grants and reversals are dated by the
 * clock of the process writing them (an operator's `vault credit grant`, another replica), the
 * month's end by the exporting one's: a writer whose clock is behind by up to this much still
 * dates its entry after the file was taken only if it writes after this margin, when the month is
 * over by every clock. NTP keeps clocks within a second; the margin is the webhooks' tolerance.
 */
export const CREDITS_CLOCK_MARGIN_SECONDS = 300;

/**
 * Throws CreditsNotFinalError while the month is not over as of `now` (and CREDITS_CLOCK_MARGIN_SECONDS), or a
 * lot that expired in it has no `expired` entry yet (the next finalize run
 * writes one, dated back at the expiry). What is left of a lot only falls
 * (the ledger is append-only, and only applied, expired and reversal entries
 * name a lot), so once none is pending none can be. Run in the export's
 * snapshot, taken while quietLedger's lock is held.
 */
export async function checkCreditsFinal(db: pg.Pool | pg.PoolClient, period: string, now: Date): Promise<void> {
  const month = parsePeriod(period);
  const end = month.end.toJSDate();
  const final = new Date(end.getTime() + CREDITS_CLOCK_MARGIN_SECONDS * 1000);
  const margin = `${CREDITS_CLOCK_MARGIN_SECONDS / 60} minutes`;
  if (now < end) {
    throw new CreditsNotFinalError(
      `credits.csv of ${period} is not final: the month runs until ${end.toISOString()}, and entries dated in it ` +
        '(credit applied by a finalize run, expiries) are written until a finalize run after its end: export it then ' +
        `(from ${final.toISOString()}, ${margin} on, for a writer whose clock is behind)`,
      final,
    );
  }
  if (now < final) {
    throw new CreditsNotFinalError(
      `credits.csv of ${period} is not final yet: the month ended at ${end.toISOString()}, but a grant or reversal ` +
        `from a clock up to ${margin} behind may still be dated in it: export it from ${final.toISOString()}`,
      final,
    );
  }
  const { rows } = await db.query<{ pending: number }>(
    `select count(*)::int as pending from invoicing.credit_lots
      where expires_at >= $1 and expires_at < $2 and remaining > 0`,
    [month.start.toJSDate(), end],
  );
  const pending = rows[0]!.pending;
  if (pending > 0) {
    throw new CreditsNotFinalError(
      `credits.csv of ${period} is not final: ${pending} credit lot(s) expired in it have no \`expired\` entry yet; ` +
        'the next finalize run writes it, dated back at the expiry (the schedule runs every INVOICE_FINALIZE_EVERY_SECONDS ' +
        'while invoicing runs; `vault finalize --period` of a due month runs one): export again once it has',
    );
  }
}

/**
 * Takes FINALIZE_LOCK shared and GRANT_LOCK exclusive on `client`'s session,
 * waiting at most `waitMs`: while they are held no finalize run (whose entries
 * are dated at its start), credit reversal nor grant is writing, and every one
 * that held them before has committed all it wrote. The export takes its
 * snapshot under them and lets go at once (releaseLedger), so a run or a grant
 * is kept waiting for a moment only. A try also fails while a writer waits for
 * the lock: it is not passed.
 */
export async function quietLedger(client: pg.PoolClient, period: string, waitMs = DEFAULT_LEDGER_WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const finalize = await tryLock(client, 'select pg_try_advisory_lock_shared($1) as got', FINALIZE_LOCK);
    // Both or neither: finalize's is let go while the grants' is not had.
    const grants = finalize && (await tryLock(client, 'select pg_try_advisory_lock($1) as got', GRANT_LOCK));
    if (grants) return;
    if (finalize) await client.query('select pg_advisory_unlock_shared($1)', [FINALIZE_LOCK]);
    if (Date.now() >= deadline) {
      throw new CreditsNotFinalError(
        finalize
          ? `credits.csv of ${period}: a credit grant is being recorded (it holds the grants' lock), ` +
              'and it may be dated in the month: export again in a moment'
          : `credits.csv of ${period}: a finalize run or a credit reversal is writing the credit ledger (it holds finalize's lock), ` +
              'and a run that started before the month ended dates its entries in it: export again once it has ended',
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tryLock = async (client: pg.PoolClient, sql: string, key: number) => (await client.query<{ got: boolean }>(sql, [key])).rows[0]!.got;

/**
 * Checks the month as checkCreditsFinal does and notes it taken (migration 038,
 * billing/credits-taken.ts), committed at once, on `client` while it holds
 * quietLedger's locks: a grant, reversal or finalize run that gets its lock
 * after reads the note and will not date an entry in the month, whatever its
 * clock says. Noted whether or not the file is then read to its end: the month
 * is over by every clock within the margin, and once a snapshot may have been
 * seen it must stay the file. The export's snapshot is read-only, so this is
 * its own short transaction.
 */
export async function takeCreditsMonth(client: pg.PoolClient, period: string, now: Date): Promise<void> {
  await client.query('begin');
  try {
    await checkCreditsFinal(client, period, now);
    await noteCreditsTaken(client, period, now);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    if (err instanceof MonthNotEndedError) {
      // A SELECT-only role's note, refused by the database (migration 040): this clock is ahead of it.
      throw new CreditsNotFinalError(
        `credits.csv of ${period} is not final: ${err.message}; this process's clock is ahead of it: set it right (NTP)`,
      );
    }
    throw err;
  }
}

/** Lets go of quietLedger's locks. */
export async function releaseLedger(client: pg.PoolClient): Promise<void> {
  await client.query('select pg_advisory_unlock($2), pg_advisory_unlock_shared($1)', [FINALIZE_LOCK, GRANT_LOCK]);
}
