// An event's `time` as PostgreSQL's timestamptz can read it. RFC 3339 allows
// offsets up to ±23:59; PostgreSQL reads at most ±15:59 and refused the rest,
// so a valid event the intake had accepted was rejected as store_refused. Such
// a time goes to the store as the same instant in UTC, its fraction kept whole;
// every other time goes as sent (what the content hash and the events keep).

const FAR_OFFSET = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([+-])(1[6-9]|2\d):(\d{2})$/;

export function storeTime(time: string): string {
  // The common case, at the cost of one character test: `Z`, or an offset of at most 15 hours.
  const sign = time.charCodeAt(time.length - 6);
  if ((sign !== 0x2b && sign !== 0x2d) || time.charCodeAt(time.length - 5) < 0x31) return time;
  const m = FAR_OFFSET.exec(time);
  if (m === null) return time;
  const [, y, mo, d, h, mi, s, fraction, offsetSign, oh, om] = m;
  const local = new Date(0);
  local.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  local.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const offsetMs = (Number(oh) * 60 + Number(om)) * 60_000 * (offsetSign === '+' ? 1 : -1);
  return `${new Date(local.getTime() - offsetMs).toISOString().slice(0, 19)}${fraction ?? ''}Z`;
}
