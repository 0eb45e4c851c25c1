// An event's `time` as the instant it names, one text per instant, for the
// content hash: `…00Z`, `…00.000Z`, `…00.000000Z` and `+01:00` of the same
// instant are one event sent in different modes (the CloudEvents SDKs write
// `time` normalised in some bindings and as given in others).
//
// The text is the form `Date#toISOString` and the SDKs write: UTC, `Z`, at
// least three fraction digits, and every digit sent beyond them up to the last
// non-zero one (a time is never rounded, so two times are one text exactly when
// they are one instant, whatever their precision). Events whose time came in
// this form were hashed with it before, so their stored hashes are the new ones.
// The judge has validated `time` (RFC 3339, `YYYY-MM-DDTHH:MM:SS[.d+](Z|±HH:MM)`, `t`/`z` too)
// before it is hashed: a hand split, no luxon per event (instant-time.test.ts
// holds it to luxon). The split is the contract's one reading of `time`
// (readTime, packages/contracts), which the 5-minute rule reads too.

import { readTime } from '@vault/contracts';

/** `time` (one the contract accepts: the judge has checked it) as one text per instant. */
export function instantText(time: string): string {
  const n = time.length;
  // The common case, returned as it is: `.sssZ`, or more digits ending in a non-zero one. Upper-case
  // `T` and `Z` only: a lower-case `t` or `z` is the same instant, so it goes the long way to one text.
  const upperT = time.charCodeAt(10) === 0x54;
  if (upperT && time.charCodeAt(n - 1) === 0x5a && time.charCodeAt(19) === 0x2e && n >= 24 && (n === 24 || time.charCodeAt(n - 2) !== 0x30))
    return time;
  // Whole seconds in UTC (`…:00Z`, as most publishers write it): the milliseconds added, no regex.
  if (upperT && n === 20 && time.charCodeAt(19) === 0x5a) return `${time.slice(0, 19)}.000Z`;
  const r = readTime(time);
  if (r === undefined) return time;
  const fraction = r.fraction.replace(TRAILING_ZEROS, '').padEnd(3, '0');
  if (r.offsetMinutes === 0) return `${r.whole}.${fraction}Z`;
  // Whole seconds only through Date (exact to the second); the fraction is kept as sent.
  const utc = new Date(r.epochSeconds * 1000).toISOString();
  return `${utc.slice(0, -5)}.${fraction}Z`;
}

const TRAILING_ZEROS = /0+$/;
