import type pg from 'pg';

/**
 * What a schema is made of, one line per object (tables and their columns,
 * constraints, indexes, triggers, functions, views, sequences, types), sorted:
 * two databases whose lines are equal have the same schema whatever migrations
 * made it. Column order is left out (a column added later comes last; nothing
 * of ours reads by position), partitions made at run time too (`<table>_YYYY_MM`).
 */
export async function schemaShape(pool: pg.Pool, schema: string): Promise<string[]> {
  const { rows } = await pool.query<{ line: string }>(SHAPE, [schema]);
  return rows.map((r) => r.line).sort();
}

const SHAPE = `
with ns as (select oid from pg_namespace where nspname = $1),
     rel as (
       select c.oid, c.relname, c.relkind from pg_class c, ns
        where c.relnamespace = ns.oid
          and not (c.relispartition and c.relname ~ '_\\d{4}_\\d{2}$')
          and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f'))
select format('relation %s %s%s', r.relname, r.relkind,
              coalesce(' partitioned by ' || pg_get_partkeydef(r.oid), '')) as line
  from rel r
union all
select format('column %s.%s %s%s%s%s%s%s', r.relname, a.attname, format_type(a.atttypid, a.atttypmod),
              case when a.attnotnull then ' not null' else '' end,
              coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
              case when a.attcollation <> 0 and a.attcollation <> t.typcollation
                   then ' collate ' || (select collname from pg_collation where oid = a.attcollation) else '' end,
              case a.attidentity when 'a' then ' identity always' when 'd' then ' identity by default' else '' end,
              case a.attgenerated when 's' then ' generated' else '' end)
  from rel r
  join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
  join pg_type t on t.oid = a.atttypid
  left join pg_attrdef d on d.adrelid = r.oid and d.adnum = a.attnum
 where r.relkind <> 'S'
union all
select format('constraint %s.%s %s%s', r.relname, k.conname, pg_get_constraintdef(k.oid),
              case when k.convalidated then '' else ' (not validated)' end)
  from rel r join pg_constraint k on k.conrelid = r.oid
union all
select format('index %s', pg_get_indexdef(i.indexrelid))
  from rel r join pg_index i on i.indrelid = r.oid
union all
select format('trigger %s', pg_get_triggerdef(g.oid))
  from rel r join pg_trigger g on g.tgrelid = r.oid and not g.tgisinternal
union all
select format('view %s %s', r.relname, pg_get_viewdef(r.oid))
  from rel r where r.relkind in ('v', 'm')
union all
select format('sequence %s %s start %s by %s min %s max %s%s', r.relname, format_type(s.seqtypid, null),
              s.seqstart, s.seqincrement, s.seqmin, s.seqmax, case when s.seqcycle then ' cycle' else '' end)
  from rel r join pg_sequence s on s.seqrelid = r.oid
union all
select format('function %s', pg_get_functiondef(p.oid))
  from pg_proc p, ns where p.pronamespace = ns.oid and p.prokind in ('f', 'p')
union all
select format('type %s %s%s', t.typname, t.typtype,
              coalesce(' ' || (select string_agg(e.enumlabel, ',' order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid), ''))
  from pg_type t, ns
 where t.typnamespace = ns.oid and t.typtype in ('e', 'd', 'r', 'm')
union all
select format('rule %s.%s %s', r.relname, w.rulename, pg_get_ruledef(w.oid))
  from rel r join pg_rewrite w on w.ev_class = r.oid and w.rulename <> '_RETURN'
`;
