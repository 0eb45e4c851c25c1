// An event's `time` as PostgreSQL's timestamptz can read it. RFC 3339 allows
// offsets up to ±23:59; PostgreSQL reads at most ±15:59 and refused the rest,
// so a valid event the intake had accepted was rejected as store_refused. Such
// a time goes to the store as the same instant in UTC, its fraction kept whole;
// every other time goes as sent (what the content hash and the events keep).
import { eventTimeIso } from '@vault/contracts';

const FAR_OFFSET = /[+-](?:1[6-9]|2\d):\d\d$/;

export function storeTime(time: string): string {
  // The common case, at the cost of one character test: `Z`, or an offset of at most 15 hours.
  const sign = time.charCodeAt(time.length - 6);
  if ((sign !== 0x2b && sign !== 0x2d) || time.charCodeAt(time.length - 5) < 0x31 || !FAR_OFFSET.test(time)) return time;
  // Milliseconds from the instant; the fraction as sent (it may hold more digits).
  return `${eventTimeIso({ time }).slice(0, 19)}${/\.\d+/.exec(time)?.[0] ?? ''}Z`;
}
