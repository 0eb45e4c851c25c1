-- Follow-up of 017 for a database that applied its first version (commit
-- b056040): note_usage_change queued one row per statement with the earliest
-- start among all its apps (one long-lived subject sent every app of a batch
-- back to its month) and queued the archive's own move of settled usage. Its
-- rows stay (an earlier `since` only costs a longer fold); the function
-- becomes 017's as it is now. On any other database this does nothing
-- (docs/contracts/runtime.md, "Migrations edited after a release").
do $do$
begin
  if not exists (select from schema_migrations where name = '017_usage_changes_since.sql'
                  and checksum = '4ef89c17cd56dcf2c65a7f3b2946e185c740b42295bed9fd07986114c339d45f') then
    return;
  end if;
-- 017's, as it is now (unindented: a function's text is kept as written).
create or replace function note_usage_change() returns trigger
language plpgsql set search_path from current as $$
begin
  if current_setting('metering.settling', true) = 'on' then
    return null;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into usage_changes (apps, since)
    select array_agg(a.app_id order by a.app_id), min(a.since)
      from (select app_id, min(lower(during)) as since from written group by app_id) a
     group by date_trunc('month', a.since, 'UTC');
  end if;
  if tg_op in ('DELETE', 'UPDATE') then
    insert into usage_changes (apps, since)
    select array_agg(a.app_id order by a.app_id), min(a.since)
      from (select app_id, min(lower(during)) as since from cleared group by app_id) a
     group by date_trunc('month', a.since, 'UTC');
  end if;
  return null;
end
$$;
end $do$;
