// The simulated platform's clock. It starts at PLATFORM_START, and every dyno
// and add-on lives within one calendar month (UTC): at each month's turn the
// platform stops its dynos and removes its add-ons just before midnight and
// starts them anew just after. So a month can be built alone, the same on
// every run, and a window starting in a month needs nothing of earlier months
// but the apps (which live for ever) to describe what runs at its start.
import { DateTime } from 'luxon';

/** The simulated platform's first instant: every app is created then, and nothing happens before it. */
export const PLATFORM_START = DateTime.fromISO('2025-01-01T00:00:00Z', { zone: 'utc' });
export const PLATFORM_START_MS = PLATFORM_START.toMillis();

export interface Month {
  /** `YYYY-MM`: names the month's streams. */
  label: string;
  /** Its first instant. */
  start: number;
  /** The next month's first instant. */
  end: number;
}

export function monthOf(ms: number): Month {
  const start = DateTime.fromMillis(ms, { zone: 'utc' }).startOf('month');
  return { label: start.toFormat('yyyy-MM'), start: start.toMillis(), end: start.plus({ months: 1 }).toMillis() };
}

/** The months from the one holding `fromMs` to the one holding the last instant before `toMs`. */
export function monthsBetween(fromMs: number, toMs: number): Month[] {
  const months: Month[] = [];
  for (let m = monthOf(fromMs); m.start < toMs; m = monthOf(m.end)) months.push(m);
  return months;
}
