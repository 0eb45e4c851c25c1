import { DateTime } from 'luxon';
import type pg from 'pg';
import { startLoop, type Logger, type Loop } from '@vault/runtime';
import type { Billing } from './types.ts';
import { dueAt } from '../domain/invoice.ts';
import { firstBillableMonth } from './final-months.ts';
import { nextPeriod, type Period } from '../domain/period.ts';

export interface ScheduleDeps {
  pool: pg.Pool;
  billing: Billing;
  graceHours: number;
  everyMs: number;
  log: Logger;
  now?: () => DateTime;
}

/**
 * Months that may have something to finalize: from the first month with usage
 * (the usage horizon's, once there is one: the months before it are final)
 * to the last one past its grace period. Finalizing a month twice is a no-op,
 * so a month is revisited until its holds clear and late accounts appear.
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
  return startLoop({
    firstAfterMs: 1_000,
    everyMs: deps.everyMs,
    async tick(running) {
      const due = await dueMonths(deps.pool, deps.graceHours, now());
      for (const month of due) {
        if (running.stopped()) return;
        await deps.billing.finalize(month.key);
      }
      deps.log.info('invoicing.schedule_tick', { 'count#invoicing.months_due': due.length });
    },
    // Crash-only: the next tick redoes whatever this one did not finish.
    onError: (err) => deps.log.error('invoicing.schedule_failed', err),
  });
}
