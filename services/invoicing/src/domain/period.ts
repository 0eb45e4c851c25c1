import { DateTime } from 'luxon';
import { PERIOD_KEY_PATTERN } from '@vault/contracts';

/** One calendar month in UTC: [start, end). */
export interface Period {
  /** "YYYY-MM". */
  readonly key: string;
  readonly start: DateTime;
  readonly end: DateTime;
  /** The month's real length: 2,678,400 for October, 2,505,600 for February 2028. */
  readonly seconds: number;
}

/** The period a "YYYY-MM" key names; throws on anything else. */
export function parsePeriod(key: string): Period {
  const match = PERIOD_KEY_PATTERN.exec(key);
  if (!match) throw new RangeError(`period must be YYYY-MM, got ${JSON.stringify(key)}`);
  return monthStarting(DateTime.utc(Number(match[1]), Number(match[2]), 1));
}

/** The period an instant falls in. */
export function periodContaining(instant: DateTime): Period {
  return monthStarting(instant.toUTC().startOf('month'));
}

export function nextPeriod(period: Period): Period {
  return monthStarting(period.end);
}

export function previousPeriod(period: Period): Period {
  return monthStarting(period.start.minus({ months: 1 }));
}

function monthStarting(start: DateTime): Period {
  const end = start.plus({ months: 1 });
  return { key: start.toFormat('yyyy-MM'), start, end, seconds: end.diff(start, 'seconds').seconds };
}
