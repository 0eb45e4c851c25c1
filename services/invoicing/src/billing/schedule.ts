import { DateTime } from 'luxon';
import type pg from 'pg';
import { startLoop, type Logger, type Loop } from '@vault/runtime';
import type { Billing } from './types.ts';
import { dueAt } from '../domain/invoice.ts';
import { nextPeriod, periodContaining, type Period } from '../domain/period.ts';

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

/**
 * The first month the schedule finalizes: the usage horizon's, or the first with usage; none without
 * usage, or without metering's published views (invoicing's tables alone: `vault export` on them).
 */
export async function firstBillableMonth(db: pg.Pool | pg.PoolClient): Promise<Period | undefined> {
  const views = await db.query<{ present: boolean }>(
    `select to_regclass('metering.billable_horizon') is not null and to_regclass('metering.billable_usage') is not null as present`,
  );
  if (!views.rows[0]?.present) return undefined;
  const { rows } = await db.query<{ first: Date | null }>(
    `select coalesce((select starts from metering.billable_horizon), (select min(lower(during)) from metering.billable_usage)) as first`,
  );
  const first = rows[0]?.first;
  return first ? periodContaining(DateTime.fromJSDate(first)) : undefined;
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
