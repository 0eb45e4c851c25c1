import { DateTime } from 'luxon';
import type pg from 'pg';
import { LOOP_LOCK_WAIT_MS, LockBusy } from '@vault/db';
import { startLoop, type Logger, type Loop } from '@vault/runtime';
import type { Billing } from './types.ts';
import { dueAt } from '../domain/invoice.ts';
import { completeMonths, expiriesPending } from './complete-months.ts';
import { firstBillableMonth } from './final-months.ts';
import { nextPeriod, type Period } from '../domain/period.ts';

export interface ScheduleDeps {
  pool: pg.Pool;
  billing: Billing;
  graceHours: number;
  everyMs: number;
  log: Logger;
  now?: () => DateTime;
  /** How long a tick waits for another finalize run's lock (another replica, `vault finalize`); default LOOP_LOCK_WAIT_MS. */
  lockWaitMs?: number;
}

/**
 * Months that may have something to finalize: from the first month with usage
 * (the usage horizon's, once there is one: the months before it are final)
 * to the last one past its grace period. Finalizing a month twice is a no-op,
 * so a month is revisited until its holds clear and late accounts appear;
 * the tick skips one that is complete with nothing learned since (completeMonths).
 */
export async function dueMonths(pool: pg.Pool, graceHours: number, now: DateTime): Promise<Period[]> {
  const first = await firstBillableMonth(pool);
  if (!first) return [];
  const months: Period[] = [];
  for (let p = first; dueAt(p, graceHours) <= now; p = nextPeriod(p)) {
    months.push(p);
  }
  return months;
}

/** The in-service schedule: a second after boot, then `everyMs` after each tick, finalize each due month, oldest first. */
export function startSchedule(deps: ScheduleDeps): Loop {
  const now = deps.now ?? (() => DateTime.utc());
  // Another run holding the lock: said at info (at warn once held 30 min), tried again next tick; a tick
  // never waits without a bound, so a hung holder neither stops months being finalized silently nor the loop stopping.
  const busy = new LockBusy(deps.log, 'invoicing.schedule_skipped');
  const lockWaitMs = deps.lockWaitMs ?? LOOP_LOCK_WAIT_MS;
  return startLoop({
    firstAfterMs: 1_000,
    everyMs: deps.everyMs,
    async tick(running) {
      const due = await dueMonths(deps.pool, deps.graceHours, now());
      // A month complete as its last run saw it, with nothing learned since, would make nothing:
      // not run, so a tick's cost does not grow with the months kept (complete-months.ts).
      const { months: complete, clockBehind } = await completeMonths(
        deps.pool,
        due.map((p) => p.key),
      );
      // The database's clock stepped back: learned_at read from it may fall before a note's snapshot less the margin.
      if (clockBehind)
        deps.log.warn('invoicing.schedule_clock_behind', {
          period: clockBehind.period,
          snapshot_at: clockBehind.snapshotAt.toISOString(),
          now: clockBehind.now.toISOString(),
          action: 'every due month finalized this tick',
        });
      // A lot expired and not written off yet: the latest due month runs, and its run writes it off.
      const latest = due.at(-1);
      if (latest && complete.has(latest.key) && (await expiriesPending(deps.pool, now().toJSDate()))) complete.delete(latest.key);
      for (const month of due) {
        if (running.stopped()) return;
        if (complete.has(month.key)) continue;
        const ran = await busy.run(() => deps.billing.finalize(month.key, { lockWaitMs }));
        // One lock for every month: the later months wait for the next tick too.
        if (ran === undefined) return;
      }
      deps.log.info('invoicing.schedule_tick', {
        'count#invoicing.months_due': due.length,
        'count#invoicing.months_complete': complete.size,
      });
    },
    // Crash-only: the next tick redoes whatever this one did not finish.
    onError: (err) => deps.log.error('invoicing.schedule_failed', err),
  });
}
