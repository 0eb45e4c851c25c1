// An event's `time` as the instant it names. Offsets differ between publishers
// (`Z`, `+02:00`), so compare and store instants, never the raw strings.
//
// One reading of `time` (readTime), by hand: Date.parse defines only three
// fraction digits (ECMAScript's date format; more is implementation-defined),
// and RFC 3339 allows any number. The 5-minute rule (eventTimeMs) and metering's
// content hash (instant-time.ts) both read this split, so they never disagree.

/** `time` (the contract's form, events.ts's Timestamp: `YYYY-MM-DDTHH:MM:SS[.d+](Z|±HH:MM)`, `T`/`Z` either case), split. */
export interface TimeReading {
  /** `YYYY-MM-DDTHH:MM:SS` as sent (its own offset), but always with an upper-case `T`. */
  readonly whole: string;
  /** The fraction's digits as sent, every one ('' when none). */
  readonly fraction: string;
  /** The offset in minutes east of UTC (0 for `Z`, `+00:00`, `-00:00`). */
  readonly offsetMinutes: number;
  /** Whole seconds since the epoch, UTC, exact (the fraction apart). */
  readonly epochSeconds: number;
}

/**
 * The contract's form, `t` and `z` in lower case too (RFC 3339 §5.6's NOTE); read by hand
 * below (per event in the judge: no captures, no Date).
 */
const FORM = /^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$/;

/** The digit at `i`, or the number the digits `i`, `i + 1` write. */
const digit = (s: string, i: number) => s.charCodeAt(i) - 48;
const two = (s: string, i: number) => digit(s, i) * 10 + digit(s, i + 1);

/** Days from 1970-01-01 to a proleptic Gregorian date (exact integers, any year; no Date, whose Date.UTC maps 0–99 to 19xx). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** Where the offset of a `time` in the form starts: its `Z` or `z` (0x20 is the case bit; a digit keeps its code), or its sign. */
const offsetAt = (time: string) => ((time.charCodeAt(time.length - 1) | 0x20) === 0x7a ? time.length - 1 : time.length - 6);

/** The offset in minutes east of UTC of a `time` in the form (+0 for `Z`, `+00:00`, `-00:00`). */
function offsetMinutesOf(time: string, at: number): number {
  if (at === time.length - 1) return 0;
  const minutes = two(time, at + 1) * 60 + two(time, at + 4);
  return time.charCodeAt(at) === 0x2d ? -minutes || 0 : minutes;
}

/** Whole seconds since the epoch (UTC) of a `time` in the form, exact: its date, time of day and offset. */
function epochSecondsOf(time: string, offsetMinutes: number): number {
  const year = two(time, 0) * 100 + two(time, 2);
  const days = daysFromCivil(year, two(time, 5), two(time, 8));
  return days * 86_400 + two(time, 11) * 3_600 + two(time, 14) * 60 + two(time, 17) - offsetMinutes * 60;
}

/** `time` split into its parts, or undefined when it is not in the contract's form (the judge refuses it). */
export function readTime(time: string): TimeReading | undefined {
  if (!FORM.test(time)) return undefined;
  const at = offsetAt(time);
  const offsetMinutes = offsetMinutesOf(time, at);
  const fraction = time.charCodeAt(19) === 0x2e ? time.slice(20, at) : '';
  const whole = time.charCodeAt(10) === 0x54 ? time.slice(0, 19) : `${time.slice(0, 10)}T${time.slice(11, 19)}`;
  return { whole, fraction, offsetMinutes, epochSeconds: epochSecondsOf(time, offsetMinutes) };
}

/**
 * Epoch milliseconds of an event's `time`: digits beyond milliseconds are truncated, which is the
 * instant floored to its millisecond (the fraction counts up from the whole second, whatever the
 * offset), so times one instant to the hash (every digit) are one millisecond here, and a later
 * instant is never an earlier millisecond. NaN for a time not in the contract's form, as Date.parse.
 * readTime's reading without its strings (the judge reads every event's).
 */
export function eventTimeMs(event: { readonly time: string }): number {
  const time = event.time;
  if (!FORM.test(time)) return Number.NaN;
  const at = offsetAt(time);
  let ms = 0;
  // The fraction's first three digits, as many as there are (`.5` is 500 ms).
  for (let i = 20, scale = 100; i < at && scale >= 1; i++, scale /= 10) ms += digit(time, i) * scale;
  return epochSecondsOf(time, offsetMinutesOf(time, at)) * 1000 + ms;
}

/** An event's `time` normalized to UTC, e.g. `2026-10-07T12:00:00.000Z` for `2026-10-07T14:00:00+02:00`. */
export function eventTimeIso(event: { readonly time: string }): string {
  return new Date(eventTimeMs(event)).toISOString();
}
