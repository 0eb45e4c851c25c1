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
// The judge has validated `time` (RFC 3339, `YYYY-MM-DDTHH:MM:SS[.d+](Z|±HH:MM)`)
// before it is hashed: a hand split, no luxon per event (instant-time.test.ts
// holds it to luxon).

/** `time` (one the contract accepts: the judge has checked it) as one text per instant. */
export function instantText(time: string): string {
  const n = time.length;
  // The common case, returned as it is: `.sssZ`, or more digits ending in a non-zero one.
  if (time.charCodeAt(n - 1) === 0x5a && time.charCodeAt(19) === 0x2e && n >= 24 && (n === 24 || time.charCodeAt(n - 2) !== 0x30))
    return time;
  // Whole seconds in UTC (`…:00Z`, as most publishers write it): the milliseconds added, no regex.
  if (n === 20 && time.charCodeAt(19) === 0x5a) return `${time.slice(0, 19)}.000Z`;
  const m = FORM.exec(time);
  if (m === null) return time;
  const [, whole, digits, offset] = m as unknown as [string, string, string | undefined, string];
  const fraction = (digits ?? '').replace(TRAILING_ZEROS, '').padEnd(3, '0');
  if (offset === 'Z') return `${whole}.${fraction}Z`;
  // Whole seconds only through Date (exact to the second); the fraction is kept as sent.
  const utc = new Date(Date.parse(`${whole}${offset}`)).toISOString();
  return `${utc.slice(0, -5)}.${fraction}Z`;
}

/** The contract's `time` (events.ts's Timestamp), split into its whole seconds, fraction and offset. */
const FORM = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/;
const TRAILING_ZEROS = /0+$/;
