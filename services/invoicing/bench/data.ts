import type pg from 'pg';

export interface BenchShape {
  accounts: number;
  appsPerAccount: number;
  intervalsPerApp: number;
}

/**
 * Where the slots fall (ISO timestamps): from `firstSlot`, spread over `span`,
 * apps owned from `ownedFrom`, no stop later than `until` (unset: none),
 * every interval learned at `learnedAt`.
 */
export interface MonthWindow {
  ownedFrom: string;
  firstSlot: string;
  span: string;
  learnedAt: string;
  until?: string;
}

/** October 2026, the first slots 12 hours early (in September). */
const OCTOBER: MonthWindow = {
  ownedFrom: '2026-09-01T00:00:00Z',
  firstSlot: '2026-09-30T12:00:00Z',
  span: '31 days',
  learnedAt: '2026-10-01T00:00:00Z',
};

/**
 * A month of usage written where metering keeps it: each account owns its apps
 * from before October; each app has `intervalsPerApp` intervals spread over
 * the month (four dyno slots and two add-ons), a few crossing into September,
 * the last ones still running. Generated in SQL: a million rows in seconds.
 * Another `window` (bench:usage: this month up to now) moves the slots.
 */
const BATCH = 5_000;

export async function generateMonth(
  pool: pg.Pool,
  shape: BenchShape,
  window: MonthWindow = OCTOBER,
): Promise<{ intervals: number; apps: number }> {
  const apps = shape.accounts * shape.appsPerAccount;
  const intervals = apps * shape.intervalsPerApp;
  // In batches: metering's writes lock each written subject until they commit.
  for (let first = 1; first <= apps; first += BATCH) {
    await pool.query(
      `insert into metering.app_ownership (app_id, app_subject_id, account_id, during, learned_at)
       select 'app-' || a, a, 'acct-' || lpad(((a - 1) / $2 + 1)::text, 6, '0'),
              tstzrange($5::timestamptz, null, '[)'), $5::timestamptz
         from generate_series($3::int, least($1::int, $3::int + $4::int - 1)) a`,
      [apps, shape.appsPerAccount, first, BATCH, window.ownedFrom],
    );
  }
  // Slot k of n starts at k/n of the way through the span (October: 12 hours
  // early) and lasts 1 to 20 hours, stopping by `until`; the last slot of each app never stopped.
  for (let first = 0; first < intervals; first += BATCH) {
    await pool.query(
      `insert into metering.usage_intervals (subject, subject_id, kind, app_id, key, product, during, learned_at)
     select 's-' || i, $1::int + i,
            case when i % 3 = 0 then 'addon' else 'dyno' end,
            'app-' || (i % $1::int + 1),
            case when i % 3 = 0 then 'addon-' || (i % $1::int + 1) || '-' || (i / $1::int % 2)
                 else 'web.' || (i / $1::int % 4 + 1) end,
            case when i % 3 = 0 then 'addon:heroku-postgresql:essential-0'
                 else (array['dyno:basic', 'dyno:standard-1x', 'dyno:standard-2x'])[i % $1::int % 3 + 1] end,
            tstzrange(s.start,
                      case when i / $1::int = $2::int - 1 then null
                           else least(s.start + (1 + i % 20) * interval '1 hour', $7::timestamptz) end,
                      '[)'),
            $8::timestamptz
       from generate_series($3::int, least($1::int * $2::int - 1, $3::int + $4::int - 1)) i
       cross join lateral (
         select $5::timestamptz + (i / $1::int) * ($6::interval / $2::int) as start
       ) s`,
      [apps, shape.intervalsPerApp, first, BATCH, window.firstSlot, window.span, window.until ?? null, window.learnedAt],
    );
  }
  await pool.query('analyze metering.usage_intervals; analyze metering.app_ownership');
  return { intervals, apps };
}
