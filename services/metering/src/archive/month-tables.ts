// A table partitioned by month (events, settled_usage): its months' tables in
// schema metering, attached or left detaching or detached by a killed run.
import type pg from 'pg';

export type MonthTableState = 'attached' | 'detaching' | 'detached';

export interface MonthTable {
  /** `<parent>_YYYY_MM` */
  table: string;
  /** YYYY-MM */
  month: string;
  state: MonthTableState;
}

/** `parent`'s month tables (named `<parent>_YYYY_MM`), oldest first. */
export async function monthTables(pool: pg.Pool, parent: 'events' | 'settled_usage'): Promise<MonthTable[]> {
  const { rows } = await pool.query<{ table: string; state: MonthTableState }>(
    `select c.relname as table,
            case when i.inhrelid is null then 'detached' when i.inhdetachpending then 'detaching' else 'attached' end as state
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'metering'
       left join pg_inherits i on i.inhrelid = c.oid and i.inhparent = ('metering.' || $1)::regclass
      where c.relkind = 'r' and c.relname ~ ('^' || $1 || '_[0-9]{4}_[0-9]{2}$')
      order by c.relname`,
    [parent],
  );
  return rows.map((r) => ({ ...r, month: `${r.table.slice(-7, -3)}-${r.table.slice(-2)}` }));
}
