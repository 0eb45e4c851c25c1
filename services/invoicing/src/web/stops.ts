// When the usage behind a credit adjustment really stopped: an adjustment line
// keeps only the difference, but metering's published intervals know the end.
// The invoice pages name that date ("web.1 stopped on Oct 2, …").
import type pg from 'pg';
import type { InvoiceLine } from '@vault/contracts';
import { parsePeriod } from '../domain/period.ts';

/** `app_id key product adjusts` of a line, the key of the map `stopDates` returns. */
export const stopKey = (l: Pick<InvoiceLine, 'app_id' | 'key' | 'product' | 'adjusts'>) =>
  `${l.app_id}\u0000${l.key}\u0000${l.product}\u0000${l.adjusts ?? ''}`;

/**
 * For each line key of a credit, the last end of its usage within the adjusted
 * month while the account ($6) owned the app, when nothing of it runs to the
 * month's end (else it did not stop in that month, and no date is named). The
 * usage of the app's other owners is never read: it is theirs, and it did not
 * stop the account's.
 */
const SQL = `
  select a.i, max(upper(x.during)) as stopped_at,
         bool_or(upper_inf(x.during) or upper(x.during) >= a.p_end) as ran_to_the_end
    from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) with ordinality
         as a(app_id, key, product, p_start, p_end, i)
    join metering.billable_usage u
      on u.app_id = a.app_id and u.key = a.key and u.product = a.product
     and u.during && tstzrange(a.p_start, a.p_end, '[)')
    join metering.billable_ownership o
      on o.app_id = a.app_id and o.account_id = $6 and o.during && u.during
    cross join lateral (select u.during * o.during as during) x
   group by a.i`;

export async function stopDates(pool: pg.Pool, accountId: string, lines: readonly InvoiceLine[]): Promise<Map<string, Date>> {
  const credits = lines.filter((l) => l.kind === 'adjustment' && l.adjusts && (l.amount ?? '').startsWith('-'));
  const out = new Map<string, Date>();
  if (credits.length === 0) return out;
  const periods = credits.map((l) => parsePeriod(l.adjusts!));
  const { rows } = await pool.query<{ i: string; stopped_at: Date | null; ran_to_the_end: boolean }>(SQL, [
    credits.map((l) => l.app_id),
    credits.map((l) => l.key),
    credits.map((l) => l.product),
    periods.map((p) => p.start.toJSDate()),
    periods.map((p) => p.end.toJSDate()),
    accountId,
  ]);
  for (const r of rows) {
    if (r.ran_to_the_end || r.stopped_at === null) continue;
    out.set(stopKey(credits[Number(r.i) - 1]!), r.stopped_at);
  }
  return out;
}
