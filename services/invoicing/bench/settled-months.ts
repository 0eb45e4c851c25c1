// bench:usage's `--settled-months M`: what an archive leaves behind after M
// months — for every app, a closed subject per earlier month whose interval
// (a day in that month) lives in that month's table of metering.settled_usage
// (metering migration 016). Invoicing's per-app reads of billable_usage then
// probe M + 1 tables, as they would on a platform with M months settled.
import type { DateTime } from 'luxon';
import type pg from 'pg';

export async function seedSettledMonths(pool: pg.Pool, months: number, now: DateTime): Promise<{ intervals: number }> {
  if (months === 0) return { intervals: 0 };
  const first = now.toUTC().startOf('month').minus({ months });
  const starts = Array.from({ length: months }, (_, i) => first.plus({ months: i }).toISODate()!);
  await pool.query('select metering.ensure_settled_month(m::date) from unnest($1::text[]) m', [starts]);
  // Closed archived subjects first: settled usage must belong to one (016's check).
  await pool.query(
    `insert into metering.archived_subjects (subject, last_sequence, archive_file, closed)
     select 'settled-' || a.app_id || '-' || m, 2, 'bench', true
       from (select distinct app_id from metering.app_ownership) a, unnest($1::text[]) m`,
    [starts],
  );
  const { rowCount } = await pool.query(
    `insert into metering.settled_usage (subject, kind, app_id, key, product, during, learned_at, month)
     select 'settled-' || a.app_id || '-' || m, 'dyno', a.app_id, 'web.1', 'dyno:basic',
            tstzrange((m || 'T00:00:00Z')::timestamptz + interval '1 day', (m || 'T00:00:00Z')::timestamptz + interval '2 days'),
            (m || 'T00:00:00Z')::timestamptz + interval '2 days', m::date
       from (select distinct app_id from metering.app_ownership) a, unnest($1::text[]) m`,
    [starts],
  );
  return { intervals: rowCount ?? 0 };
}
