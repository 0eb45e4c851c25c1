-- Follow-up of 010 for a database that applied one of its first two versions
-- (commits f2e7a38, ce35f48). The first queued one row per app (`app_id`):
-- its rows become the current one-row-per-statement shape (`apps`), and
-- note_usage_change writes that shape again (migration 017 then makes it what
-- it is now). Neither queued the usage already here when 010 ran, so invoicing's
-- fold never folded it and its aggregates lack it: every app with usage or
-- ownership is queued now, as 010 does (a fold of an app computes it again from
-- metering's usage, so an app queued twice costs a fold, never money). On any
-- other database this does nothing (docs/contracts/runtime.md, "Migrations
-- edited after a release").
do $do$
begin
  if not exists (select from schema_migrations where name = '010_usage_changes.sql'
                  and checksum in ('11b9719ae18f2494b7b36cf98a8ccbd710d51792014d799fa73d5ebcd467cf21',
                                   '992f04c20709081ad2f6ca26d5ada3b4197fa84869bb34c3a03401f8e516adb8')) then
    return;
  end if;
  if exists (select from pg_attribute where attrelid = 'usage_changes'::regclass and attname = 'app_id' and not attisdropped) then
    alter table usage_changes add column apps text[] collate "C";
    update usage_changes set apps = array[app_id];
    alter table usage_changes alter column apps set not null;
    drop index if exists usage_changes_by_app;
    alter table usage_changes drop column app_id;
-- 010's, as it is now (unindented: a function's text is kept as written).
create or replace function note_usage_change() returns trigger
language plpgsql set search_path from current as $$
begin
  if tg_op in ('INSERT', 'UPDATE') then
    insert into usage_changes (apps) select array_agg(distinct app_id) from written having count(*) > 0;
  end if;
  if tg_op in ('DELETE', 'UPDATE') then
    insert into usage_changes (apps) select array_agg(distinct app_id) from cleared having count(*) > 0;
  end if;
  return null;
end
$$;
  end if;
  insert into usage_changes (apps)
  select array_agg(app_id order by app_id)
    from (select app_id, row_number() over (order by app_id) as n
            from (select app_id from usage_intervals union select app_id from app_ownership) a) numbered
   group by (n - 1) / 1000;
end $do$;
