import type { DateTime } from 'luxon';

export interface SimulationWindow {
  /** Inclusive. */
  from: DateTime;
  /** Exclusive: no event happens at or after it. */
  to: DateTime;
}

export interface DemoWindow extends SimulationWindow {
  /** The latest month that may be finalized at `now`, `YYYY-MM`. */
  finalizable: string;
}

/**
 * The demo's window: from the first instant of the latest month that is due
 * for finalizing (its end plus the grace period is at or before `now`, as
 * invoicing decides) up to `now`. So the demo has one month to finalize and
 * the current month's draft after it.
 */
export function demoWindow(now: DateTime, graceHours: number): DemoWindow {
  if (!now.isValid) throw new RangeError('demoWindow: now is not a valid time');
  if (!(graceHours >= 0)) throw new RangeError('demoWindow: graceHours must be 0 or more');
  const utc = now.toUTC();
  let month = utc.startOf('month').minus({ months: 1 });
  while (month.plus({ months: 1 }).plus({ hours: graceHours }) > utc) month = month.minus({ months: 1 });
  return { from: month, to: utc, finalizable: month.toFormat('yyyy-MM') };
}

/**
 * The last `weeks` weeks up to `now`, from the start of that day (UTC): runs
 * on the same day share a start, so the same late events, and the start is a
 * whole day before its month's end, as the late events need.
 */
export function recentWindow(now: DateTime, weeks: number): SimulationWindow {
  if (!now.isValid) throw new RangeError('recentWindow: now is not a valid time');
  if (!Number.isInteger(weeks) || weeks < 1) throw new RangeError('recentWindow: weeks must be a whole number, 1 or more');
  const utc = now.toUTC();
  return { from: utc.minus({ weeks }).startOf('day'), to: utc };
}
