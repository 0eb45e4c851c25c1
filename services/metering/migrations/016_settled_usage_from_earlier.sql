-- Follow-up of 016 for a database that applied one of its first two versions
-- (commits 7370711, 43811b1). The first made each month's table without its own
-- statement triggers (a statement naming the month's table fires those, not
-- settled_usage's), queued no change of settled usage, checked a bulk write
-- under one advisory lock per subject and queued the archive's own move; the
-- second had no `last_month` in billable_usage. The functions, triggers and
-- view become 016's as it is now, and every month's table gets its triggers
-- (ensure_settled_month is 019's, which follows). On any other database this
-- does nothing (docs/contracts/runtime.md, "Migrations edited after a release").
do $do$
declare
  part text;
begin
  if not exists (select from schema_migrations where name = '016_settled_usage.sql'
                  and checksum in ('aa81a678767c9dfaf6ef6e42e1e936aa02d7ab61f75b4487ce823668f7ff3f37',
                                   '0b9c39089cac8e80fc4a40be6ad1fd9c75e0d276e972516b7ed80148d640ebf3')) then
    return;
  end if;
-- 016's functions, triggers and view as they are now (unindented: a function's text is kept as written).
create or replace function refuse_unsettled_usage() returns trigger
language plpgsql set search_path from current as $$
declare
  clash record;
begin
  -- The consumer's subject locks, or (a bulk write: as many advisory locks
  -- would fill the lock table) the live table against every writer, as 009 does.
  if (select count(distinct n.subject) from written n) > 2000 then
    lock table usage_intervals in share row exclusive mode;
  else
    perform pg_advisory_xact_lock(hashtextextended(s.subject, 7001))
       from (select distinct n.subject from written n order by 1) s;
  end if;
  select n.subject, n.during, null::tstzrange as prev into clash
    from written n left join archived_subjects a on a.subject = n.subject
   where a.subject is null or not (a.closed or upper(n.during) <= a.frozen_before)
   limit 1;
  if not found then
    select s.subject, w.during, w.prev into clash
      from (select distinct n.subject from written n) s
      cross join lateral (
        select x.during, lag(x.during) over (order by lower(x.during)) as prev
          from (select u.during from settled_usage u where u.subject = s.subject
                union all
                select u.during from usage_intervals u where u.subject = s.subject) x
      ) w
     where w.prev && w.during
     limit 1;
  end if;
  if found then
    raise exception 'conflicting key value violates exclusion constraint "settled_usage_no_overlap"'
      using errcode = 'exclusion_violation',
            detail = case when clash.prev is null
                          then format('%s %s is not settled: its subject is not archived, or it ends after its kept event.', clash.subject, clash.during)
                          else format('Key (subject, during)=(%s, %s) overlaps %s.', clash.subject, clash.during, clash.prev) end,
            schema = tg_table_schema, table = tg_table_name, constraint = 'settled_usage_no_overlap';
  end if;
  return null;
end
$$;

create or replace function settle_usage(subjects text[]) returns bigint
language plpgsql set search_path from current as $$
declare
  m date;
  moved_rows bigint;
begin
  for m in
    select distinct settled_month(u.during)
      from usage_intervals u join archived_subjects a on a.subject = u.subject
     where u.subject = any(subjects) and (a.closed or lower(u.during) < a.frozen_before)
  loop
    perform ensure_settled_month(m);
  end loop;
  -- The union invoicing reads stays as it was: nothing to queue (note_usage_change, migration 017).
  perform set_config('metering.settling', 'on', true);
  with moved as (
    delete from usage_intervals u using archived_subjects a
     where u.subject = any(subjects) and a.subject = u.subject and (a.closed or lower(u.during) < a.frozen_before)
    returning u.*
  )
  insert into settled_usage (subject, kind, app_id, key, product, during, learned_at, month)
  select subject, kind, app_id, key, product, during, learned_at, settled_month(during) from moved;
  get diagnostics moved_rows = row_count;
  perform set_config('metering.settling', 'off', true);
  return moved_rows;
end $$;

create or replace trigger settled_usage_changed_insert after insert on settled_usage
  referencing new table as written for each statement execute function note_usage_change();
create or replace trigger settled_usage_changed_update after update on settled_usage
  referencing old table as cleared new table as written for each statement execute function note_usage_change();
create or replace trigger settled_usage_changed_delete after delete on settled_usage
  referencing old table as cleared for each statement execute function note_usage_change();

create or replace view billable_usage as
  select app_id, kind, key, product, during, learned_at, 'infinity'::date as last_month from usage_intervals
  union all
  select app_id, kind, key, product, during, learned_at, month from settled_usage;

  for part in select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
               where i.inhparent = 'settled_usage'::regclass loop
    execute format('create or replace trigger checked_insert after insert on %I referencing new table as written
                    for each statement execute function refuse_unsettled_usage()', part);
    execute format('create or replace trigger checked_update after update on %I referencing new table as written
                    for each statement execute function refuse_unsettled_usage()', part);
    execute format('create or replace trigger changed_insert after insert on %I referencing new table as written
                    for each statement execute function note_usage_change()', part);
    execute format('create or replace trigger changed_update after update on %I referencing old table as cleared new table as written
                    for each statement execute function note_usage_change()', part);
    execute format('create or replace trigger changed_delete after delete on %I referencing old table as cleared
                    for each statement execute function note_usage_change()', part);
  end loop;
end $do$;
