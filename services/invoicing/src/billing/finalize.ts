import { randomUUID } from 'node:crypto';
import type { DateTime } from 'luxon';
import type pg from 'pg';
import { withSessionLock, withTransaction } from '@vault/db';
import type { PriceBook } from '@vault/contracts';
import type { Logger } from '@vault/runtime';
import { minimumChargeAmount } from '../charging/amount.ts';
import type { FinalizeOptions, FinalizeReport } from './types.ts';
import { dueAt } from '../domain/invoice.ts';
import { sumCents } from '../domain/money.ts';
import type { Period } from '../domain/period.ts';
import { expireCredits } from './credit-store.ts';
import { refuseTakenMonth } from './credits-taken.ts';
import { usageHorizon } from './final-months.ts';
import { completeRuns } from './finalize-runs.ts';
import { noteComplete } from './complete-months.ts';
import { finalizeChunk, type ChunkOrder, type ChunkOutcome } from './finalize-chunk.ts';
import { openMonthStream } from './finalize-stream.ts';
import { ensureLinesMonth } from './invoice-store.ts';
import { requireMetering } from './metering-schema.ts';

/** Asked to finalize a month whose grace period has not passed. */
export class NotDueError extends Error {}

/** Asked to finalize a month before the usage horizon: it is final, its usage archived (final-months.ts). */
export class FinalMonthError extends Error {}

// One finalize at a time, whatever the month: a run computes adjustments from
// other months' invoices, so runs must see each other's results whole.
export const FINALIZE_LOCK = 0x76_61_75_6c; // "vaul"

/** Accounts per chunk (one transaction each): about 12,000 lines at a dozen lines an account. */
export const FINALIZE_CHUNK_ACCOUNTS = 1_000;

/** Chunk transactions open at once: two keep both of a 2-core machine's cores busy writing. */
const CHUNKS_IN_FLIGHT = 2;

export interface FinalizeDeps {
  pool: pg.Pool;
  prices: PriceBook;
  graceHours: number;
  now: () => DateTime;
  log?: Logger;
  /** Accounts per chunk transaction; FINALIZE_CHUNK_ACCOUNTS by default. */
  chunkAccounts?: number;
}

/**
 * Finalizes a month: every account with usage (or late-usage adjustments) in
 * it that has no invoice for it yet and is not held gets a numbered,
 * immutable invoice. The month is read as one stream in account order and
 * written a chunk of accounts per transaction, so memory does not grow with
 * the month and a run killed midway keeps what it committed. Idempotent: a
 * second run, or one running at the same time, finds the invoices made and
 * adds only what became due since, numbered after them.
 */
export async function finalizePeriod(deps: FinalizeDeps, period: Period, opts: FinalizeOptions = {}): Promise<FinalizeReport> {
  const due = dueAt(period, deps.graceHours);
  if (deps.now() < due) {
    throw new NotDueError(`${period.key} is not due until ${due.toISO()} (INVOICE_GRACE_HOURS=${deps.graceHours})`);
  }
  // Metering's views as invoicing reads them, or a MeteringNotReadyError (`vault finalize` before metering migrated).
  await requireMetering(deps.pool);
  const horizon = await usageHorizon(deps.pool);
  if (horizon !== null && period.key < horizon) {
    throw new FinalMonthError(`${period.key} is before the usage horizon (${horizon}): it is final and its usage is archived`);
  }
  const started = performance.now();
  // The lock is held before the stream's snapshot is taken, so it sees every earlier run's invoices.
  const onWait = (holder: string) => deps.log?.info('finalize.waiting', { period: period.key, holder, for: 'another finalize run to end' });
  const { report, timing } = await withSessionLock(
    deps.pool,
    FINALIZE_LOCK,
    async () => {
      // The balance as of now: what expired by now is written off first, so it is never applied.
      const at = deps.now().toJSDate();
      // Its `applied` and `invoice_remainder` entries are dated `at`: never in a month whose credits.csv was taken (credits-taken.ts).
      await refuseTakenMonth(deps.pool, 'finalize run', at);
      const creditsExpired = await withTransaction(deps.pool, (client) => expireCredits(client, at), {
        log: deps.log,
        name: 'finalize_expire',
      });
      // Its own statement: creating a partition locks the lines table until it commits.
      await ensureLinesMonth(deps.pool, period.key);
      const stream = await openMonthStream(deps.pool, period);
      const terms = {
        period,
        prices: deps.prices,
        minimum: minimumChargeAmount(deps.prices.currency),
        at,
        finalizedAt: stream.snapshotAt,
        run: randomUUID(),
        log: deps.log,
      };
      const run = { finalized: 0, held: 0, accounts: 0, total: '0.00', creditApplied: '0.00' };
      const timing = { firstChunkMs: 0, readMs: 0, writeMs: 0 };
      // Chunks in flight: while one commits, the next is looked up and inserted
      // and the one after is read (the stream's cursors and each chunk's
      // transaction are connections of their own; the rating domain runs here).
      const inFlight: Promise<ChunkOutcome>[] = [];
      let order: ChunkOrder = { firstNumber: Promise.resolve(stream.alreadyFinalized + 1), previousCommitted: Promise.resolve() };
      const oldestCommitted = async () => {
        const t0 = performance.now();
        const outcome = await inFlight.shift()!;
        timing.writeMs += performance.now() - t0;
        run.finalized += outcome.finalized;
        run.held += outcome.held;
        run.total = sumCents([run.total, outcome.total]);
        run.creditApplied = sumCents([run.creditApplied, outcome.creditApplied]);
        deps.log?.info('invoicing.finalize_progress', {
          period: period.key,
          accounts: run.accounts,
          finalized: run.finalized,
          held: run.held,
          last_number: stream.alreadyFinalized + run.finalized,
          'measure#finalize.chunk_work': `${outcome.workMs.toFixed(0)}ms`,
          'measure#finalize.chunk_wait': `${outcome.waitMs.toFixed(0)}ms`,
          'sample#finalize.rss_mib': Math.round(process.memoryUsage().rss / 2 ** 20),
        });
      };
      try {
        const chunks = stream.chunks(deps.chunkAccounts ?? FINALIZE_CHUNK_ACCOUNTS);
        for (let t0 = performance.now(), next = await chunks.next(); !next.done; t0 = performance.now(), next = await chunks.next()) {
          timing.readMs += performance.now() - t0;
          if (timing.firstChunkMs === 0) timing.firstChunkMs = performance.now() - started;
          if (inFlight.length >= CHUNKS_IN_FLIGHT) await oldestCommitted();
          run.accounts += next.value.length;
          const chunk = finalizeChunk(deps.pool, terms, next.value, order);
          // Awaited in turn by oldestCommitted(), or by the next chunk; until then a failure is not unhandled.
          chunk.committed.catch(() => {});
          chunk.nextNumber.catch(() => {});
          order = { firstNumber: chunk.nextNumber, previousCommitted: chunk.committed };
          inFlight.push(chunk.committed);
        }
        while (inFlight.length > 0) await oldestCommitted();
        // Until now, once a chunk of it wrote, the month's exports were refused (they would look complete).
        await completeRuns(deps.pool, period.key);
        // What the schedule skips a month by until something it reads changes (complete-months.ts).
        await noteComplete(deps.pool, period.key, stream.snapshotAt, run.held);
      } finally {
        // Never give the lock up while a chunk may still commit.
        await Promise.allSettled(inFlight);
        await stream.close();
      }
      const report: FinalizeReport = {
        period: period.key,
        finalized: run.finalized,
        alreadyFinalized: stream.alreadyFinalized,
        held: run.held,
        total: run.total,
        creditApplied: run.creditApplied,
        creditsExpired,
      };
      return { report, timing };
    },
    // `vault finalize` rightly waits for a long finalize (a large month) to end, then runs (a no-op or the rest);
    // the app's schedule waits its loop's bound and tries again next tick (schedule.ts), so a hung holder is said.
    { onWait, waitMs: opts.lockWaitMs ?? Number.POSITIVE_INFINITY },
  );
  deps.log?.info('invoicing.finalized', {
    period: period.key,
    'count#invoices.finalized': report.finalized,
    already_finalized: report.alreadyFinalized,
    'count#invoices.held': report.held,
    total: report.total,
    // Where the time went: until the first chunk (the aggregate's sort), reading the stream, waiting for writes.
    'measure#finalize.first_chunk': `${timing.firstChunkMs.toFixed(0)}ms`,
    'measure#finalize.read': `${timing.readMs.toFixed(0)}ms`,
    'measure#finalize.write_wait': `${timing.writeMs.toFixed(0)}ms`,
    'measure#finalize.duration': `${(performance.now() - started).toFixed(0)}ms`,
  });
  return report;
}
