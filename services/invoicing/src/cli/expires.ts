// `--expires DURATION` of `vault token create` and `vault credit grant`: one rule for both,
// luxon's ISO 8601 durations counted from now.
import { DateTime, Duration } from 'luxon';
import { CliUsageError } from './usage.ts';

/** What both commands take, as their messages and help say it. */
export const EXPIRES_DURATIONS = 'a positive ISO 8601 duration such as P90D, PT12H, P2W, P6M or P1Y (any letter case), at most P100Y';

/** The longest: 100 years from now (beyond, PostgreSQL stores a year JS dates cannot hold). */
const MAX_YEARS = 100;

/**
 * The instant `given` (P90D, pt12h, P1Y2M…: years, months, weeks, days, hours,
 * minutes, seconds, as luxon reads them, calendar-aware) from `now`: after now
 * and at most 100 years on. Throws CliUsageError naming `command`'s --expires.
 */
export function expiresAfter(command: string, given: string, now: DateTime = DateTime.utc()): DateTime {
  const refused = (what: string) => new CliUsageError(`${command}: --expires must be ${what}, got ${JSON.stringify(given)}`);
  const duration = Duration.fromISO(given.toUpperCase());
  if (!duration.isValid || !(duration.toMillis() > 0)) throw refused(EXPIRES_DURATIONS);
  const end = now.plus(duration);
  // Too far for a date at all (P100000000D) is too long, not malformed.
  if (!end.isValid || end > now.plus({ years: MAX_YEARS })) throw refused('at most 100 years (P100Y)');
  // Signed parts (P1M-40D) summing to the past.
  if (end <= now) throw refused(EXPIRES_DURATIONS);
  return end;
}
