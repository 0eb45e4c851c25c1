import type pg from 'pg';
import type { LineUsage, UsageKind } from '../domain/usage.ts';
import { ms, reachesFrom } from './sql.ts';

export interface UsageWindow {
  /** [from, to): the period, cut at "now" for live drafts. */
  from: Date;
  to: Date;
  /** Only these accounts (all when omitted). */
  accounts?: readonly string[];
  /** Leave out accounts that already have a finalized invoice for this period. */
  unfinalizedOf?: string;
  /** Only these apps' usage (all when omitted): late-usage recomputations look up only these. */
  apps?: readonly string[];
}

/**
 * Every account's usage per line key in a window, summed in SQL: each
 * interval clipped to the window and to the spans in which the account owned
 * the app (docs/contracts/invoicing.md, Rating). One pass, whatever the number of
 * intervals; JavaScript only sees one row per line. The bench's limit is
 * this statement over the month; finalize itself reads the month from the
 * usage aggregates (finalize-stream.ts), equal to it.
 */
export const LINE_USAGE_SQL = `
  select o.account_id collate "C" as account_id, u.app_id, u.kind, u.key, u.product,
         sum(${ms('u.during * o.during * w.r')})::text as ms
    from (select tstzrange($1::timestamptz, $2::timestamptz, '[)') as r) w
    join metering.billable_usage u on u.during && w.r and ${reachesFrom('u', '$1::timestamptz')}
    join metering.billable_ownership o on o.app_id = u.app_id and o.during && u.during and o.during && w.r
   where ($3::text[] is null or o.account_id = any($3::text[]))
     and ($4::text is null or not exists (
           select 1 from invoicing.invoices i where i.account_id = o.account_id and i.period = $4))
     and ($5::text[] is null or (u.app_id = any($5::text[]) and o.app_id = any($5::text[])))
   group by 1, 2, 3, 4, 5`;

export async function readLineUsage(db: pg.Pool | pg.PoolClient, window: UsageWindow): Promise<Map<string, LineUsage[]>> {
  const byAccount = new Map<string, LineUsage[]>();
  if (window.to <= window.from) return byAccount;
  const { rows } = await db.query<{ account_id: string; app_id: string; kind: UsageKind; key: string; product: string; ms: string }>(
    LINE_USAGE_SQL,
    [window.from, window.to, window.accounts ?? null, window.unfinalizedOf ?? null, window.apps ?? null],
  );
  for (const r of rows) {
    const usage = Number(r.ms);
    if (usage <= 0) continue;
    const lines = byAccount.get(r.account_id) ?? [];
    lines.push({ appId: r.app_id, kind: r.kind, key: r.key, product: r.product, ms: usage });
    byAccount.set(r.account_id, lines);
  }
  return byAccount;
}

/** One account's usage per day and product, for the usage chart. */
const PER_DAY = `
  select d.i, u.product, sum(${ms('u.during * o.during * d.r')})::text as ms
    from unnest($1::timestamptz[], $2::timestamptz[]) with ordinality d0(from_, to_, i)
    cross join lateral (select d0.i, tstzrange(d0.from_, d0.to_, '[)') as r) d
    join metering.billable_ownership o on o.account_id = $3 and o.during && d.r
    join metering.billable_usage u on u.app_id = o.app_id and u.during && o.during and u.during && d.r
   group by 1, 2`;

export async function readDailyUsage(
  db: pg.Pool,
  accountId: string,
  days: readonly { from: Date; to: Date }[],
): Promise<{ day: number; product: string; ms: number }[]> {
  if (days.length === 0) return [];
  const { rows } = await db.query<{ i: string; product: string; ms: string }>(PER_DAY, [
    days.map((d) => d.from),
    days.map((d) => d.to),
    accountId,
  ]);
  return rows.map((r) => ({ day: Number(r.i) - 1, product: r.product, ms: Number(r.ms) })).filter((r) => r.ms > 0);
}
