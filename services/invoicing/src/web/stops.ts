// How the usage behind a credit adjustment ended: an adjustment line keeps only
// the difference, but metering's published intervals know the end. The invoice
// pages name a stop's day ("web.1 stopped on Oct 2, …"); an end that is the
// account's ownership ending (a transfer) is no stop and gets no stop day, nor
// is an end where the same app's key runs on at once under another product (a
// plan change, a resize): it changed, on that day.
import type pg from 'pg';
import type { InvoiceLine } from '@vault/contracts';
import { parsePeriod } from '../domain/period.ts';

/** `app_id key product adjusts` of a line, the key of the map `stopDates` returns. */
export const stopKey = (l: Pick<InvoiceLine, 'app_id' | 'key' | 'product' | 'adjusts'>) =>
  `${l.app_id}\u0000${l.key}\u0000${l.product}\u0000${l.adjusts ?? ''}`;

/**
 * How a credit's usage ended within the adjusted month, for the account:
 * - `stopped`: the usage itself ended at `at`, while the account owned the app;
 * - `changed`: so did it, but the app's same key (an add-on, a dyno) runs on from `at`
 *   under another product: a plan change or a resize, no stop;
 * - `moved`: the account's ownership of the app ended first (the usage may run on for
 *   another owner). `to`: the instant another account owns the app from, when the data
 *   shows one taking it over exactly where this account's ownership ended.
 */
export type LineEnd = { kind: 'stopped'; at: Date } | { kind: 'changed'; at: Date } | { kind: 'moved'; to?: Date };

/**
 * For each line key of a credit, its usage within the adjusted month while the
 * account ($6) owned the app: the interval (cut to that ownership) that ends
 * last, when nothing of it runs to the month's end (else it did not end in that
 * month, and nothing is named). `stopped`: the usage's own end is inside the
 * ownership (its end is the cut interval's); else the ownership ended first.
 * The other owners' usage is never read: it is theirs, and it did not stop the
 * account's; only whether another account owns the app from the end on.
 * `changed`: usage of the same app and key under another product starts exactly
 * where the usage ended (metering starts a plan change's or a resize's interval
 * at the previous one's end; an add-on's key is its subject). It starts inside
 * the adjusted month. Usage that overlaps the adjusted month ends in it or later:
 * neither read probes a settled month before it (`last_month`, migration 016).
 */
const SQL = `
  select distinct on (a.i) a.i, upper(x.during) as ended_at,
         upper_inf(x.during) or upper(x.during) >= a.p_end as ran_to_the_end,
         not upper_inf(u.during) and (upper_inf(o.during) or upper(u.during) <= upper(o.during)) as stopped,
         exists (select 1 from metering.billable_ownership n
                  where n.app_id = a.app_id and n.account_id <> $6 and lower(n.during) = upper(o.during)) as taken_over,
         not upper_inf(u.during) and exists (
           select 1 from metering.billable_usage c
            where c.app_id = a.app_id and c.key = a.key and c.product <> a.product
              and c.last_month >= (a.p_start at time zone 'UTC')::date
              and lower(c.during) = upper(u.during)) as changed
    from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) with ordinality
         as a(app_id, key, product, p_start, p_end, i)
    join metering.billable_usage u
      on u.app_id = a.app_id and u.key = a.key and u.product = a.product
     and u.during && tstzrange(a.p_start, a.p_end, '[)')
     and u.last_month >= (a.p_start at time zone 'UTC')::date
    join metering.billable_ownership o
      on o.app_id = a.app_id and o.account_id = $6 and o.during && u.during
    cross join lateral (select u.during * o.during as during) x
   order by a.i, upper_inf(x.during) desc, upper(x.during) desc, stopped`;

export async function stopDates(pool: pg.Pool, accountId: string, lines: readonly InvoiceLine[]): Promise<Map<string, LineEnd>> {
  const credits = lines.filter((l) => l.kind === 'adjustment' && l.adjusts && (l.amount ?? '').startsWith('-'));
  const out = new Map<string, LineEnd>();
  if (credits.length === 0) return out;
  const periods = credits.map((l) => parsePeriod(l.adjusts!));
  const { rows } = await pool.query<{
    i: string;
    ended_at: Date | null;
    ran_to_the_end: boolean;
    stopped: boolean;
    taken_over: boolean;
    changed: boolean;
  }>(SQL, [
    credits.map((l) => l.app_id),
    credits.map((l) => l.key),
    credits.map((l) => l.product),
    periods.map((p) => p.start.toJSDate()),
    periods.map((p) => p.end.toJSDate()),
    accountId,
  ]);
  for (const r of rows) {
    if (r.ran_to_the_end || r.ended_at === null) continue;
    const key = stopKey(credits[Number(r.i) - 1]!);
    const at = r.ended_at;
    out.set(
      key,
      r.stopped ? { kind: r.changed ? 'changed' : 'stopped', at } : r.taken_over ? { kind: 'moved', to: at } : { kind: 'moved' },
    );
  }
  return out;
}
