import { DateTime } from 'luxon';
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { Billing } from './billing-types.ts';
import { dueAt } from './domain/invoice.ts';
import { nextPeriod, periodContaining, type Period } from './domain/period.ts';

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
 * to the last one past its grace period. Finalizing a month twice is a no-op,
 * so a month is revisited until its holds clear and late accounts appear.
 */
export async function dueMonths(pool: pg.Pool, graceHours: number, now: DateTime): Promise<Period[]> {
  const { rows } = await pool.query<{ first: Date | null }>('select min(lower(during)) as first from metering.billable_usage');
  const first = rows[0]?.first;
  if (!first) return [];
  const months: Period[] = [];
  for (let p = periodContaining(DateTime.fromJSDate(first)); dueAt(p, graceHours) <= now; p = nextPeriod(p)) {
    months.push(p);
  }
  return months;
}

/** The in-service schedule: every `everyMs`, finalize each due month, oldest first. */
export function startSchedule(deps: ScheduleDeps): { stop(): Promise<void> } {
  const now = deps.now ?? (() => DateTime.utc());
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = async () => {
    try {
      const due = await dueMonths(deps.pool, deps.graceHours, now());
      for (const month of due) {
        if (stopped) return;
        await deps.billing.finalize(month.key);
      }
      deps.log.info('invoicing.schedule_tick', { 'count#invoicing.months_due': due.length });
    } catch (err) {
      // Crash-only: the next tick redoes whatever this one did not finish.
      deps.log.error('invoicing.schedule_failed', err as Error);
    }
  };
  const run = () => {
    running = running.then(tick);
  };
  const first = setTimeout(run, 1_000);
  const timer = setInterval(run, deps.everyMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
