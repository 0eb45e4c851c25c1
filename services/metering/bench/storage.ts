// On-disk size per million events after the drain: metering's tables and,
// when the database holds the embedded bus, its log. pg_total_relation_size:
// heap, TOAST, indexes and free-space maps; the partitions of a partitioned
// table count under their root.
import type pg from 'pg';

export interface Storage {
  /** Bytes per million events over every table measured. */
  perMillion: number;
  /** Per table (the embedded bus's tables as `bus.<table>`), largest first, bytes per million events. */
  tables: { name: string; perMillion: number }[];
}

export async function storagePerMillion(pool: pg.Pool, events: number): Promise<Storage> {
  const { rows } = await pool.query<{ name: string; bytes: string }>(
    `select case when n.nspname = 'metering' then r.relname else n.nspname || '.' || r.relname end as name,
            sum(pg_total_relation_size(c.oid))::text as bytes
       from pg_class c
       join pg_class r on r.oid = coalesce(pg_partition_root(c.oid), c.oid)
       join pg_namespace n on n.oid = r.relnamespace
      where n.nspname in ('metering', 'bus') and c.relkind = 'r'
      group by 1 order by sum(pg_total_relation_size(c.oid)) desc, 1`,
  );
  const scale = 1e6 / events;
  const tables = rows.map((r) => ({ name: r.name, perMillion: Number(r.bytes) * scale }));
  return { perMillion: tables.reduce((n, t) => n + t.perMillion, 0), tables };
}

/** "storage: X MiB per million events (events A, usage_intervals B, …)": tables under 1% of the whole go under "other". */
export function storageLine(s: Storage): string {
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  const shown = s.tables.filter((t) => t.perMillion >= s.perMillion / 100);
  const other = s.perMillion - shown.reduce((n, t) => n + t.perMillion, 0);
  const parts = [...shown.map((t) => `${t.name} ${mib(t.perMillion)}`), ...(other > 0 ? [`other ${mib(other)}`] : [])];
  return `storage: ${mib(s.perMillion)} MiB per million events (${parts.join(', ')})`;
}
