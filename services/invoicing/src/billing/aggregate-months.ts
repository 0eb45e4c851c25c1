// The usage aggregates before metering's usage horizon (docs/contracts/invoicing.md,
// "Final months"): final, and never read by billing again (the invoices hold
// what they charged), so `vault archive` deletes them. By key ranges: usage_days
// a thousand accounts at a time along its primary key, usage_months a month at
// a time along its own; each a transaction of its own, so a killed run keeps
// what it deleted and the next one goes on. (Tables per month were tried: a
// customer's view, a kept generic plan, then locks every month's table and its
// indexes on each run, and with 13 settled months besides the lock manager
// became the tail — bench:usage p99 82–125 ms against 24 ms.)
import type pg from 'pg';

/** A thousand accounts' days before `$1`, after account `$2` in key order; the last account, and how many rows went. */
const DAYS = `
  with b as (select distinct account_id from invoicing.usage_days where account_id > $2 order by account_id limit 1000),
  gone as (delete from invoicing.usage_days d using b where d.account_id = b.account_id and d.day < $1 returning 1)
  select (select max(account_id) from b) as last, (select count(*) from gone)::int as n`;

export interface AggregatesDeleted {
  days: number;
  months: number;
}

/** Deletes the aggregates before `horizon` (YYYY-MM); a progress line every 100,000 accounts and at the end. */
export async function deleteFinalAggregates(
  pool: pg.Pool,
  horizon: string,
  say: (line: string) => void | Promise<void>,
): Promise<AggregatesDeleted> {
  const before = `${horizon}-01T00:00:00Z`;
  const out: AggregatesDeleted = { days: 0, months: 0 };
  let accounts = 0;
  for (let after = ''; ; ) {
    const { rows } = await pool.query<{ last: string | null; n: number }>(DAYS, [before, after]);
    if (rows[0]!.last === null) break;
    after = rows[0]!.last;
    out.days += rows[0]!.n;
    accounts += 1000;
    if (accounts % 100_000 === 0) await say(`deleting invoicing's usage days before ${horizon}: ${accounts} accounts, ${out.days} rows`);
  }
  const { rows: months } = await pool.query<{ month: Date }>(
    'select distinct month from invoicing.usage_months where month < $1 order by month',
    [before],
  );
  for (const { month } of months) {
    const { rowCount } = await pool.query('delete from invoicing.usage_months where month = $1', [month]);
    out.months += rowCount ?? 0;
  }
  await say(`deleted invoicing's usage aggregates before ${horizon} (final): ${out.days} days and ${out.months} months of rows`);
  return out;
}
