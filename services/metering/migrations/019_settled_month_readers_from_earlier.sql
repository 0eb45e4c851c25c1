-- Follow-up of 019 for a database that applied its first version (commit
-- ad73bff): ensure_settled_month asked for its exclusive lock for 5 s, and new
-- readers of settled usage queued behind it all that while; it becomes 019's
-- as it is now (200 ms). On any other database this does nothing
-- (docs/contracts/runtime.md, "Migrations edited after a release").
do $do$
begin
  if not exists (select from schema_migrations where name = '019_settled_month_readers.sql'
                  and checksum = 'af6f2c5ba51792a47c43124efa315140c1d3ccca94d9b99f958317bc46f4d36f') then
    return;
  end if;
-- 019's, as it is now (unindented: a function's text is kept as written).
create or replace function ensure_settled_month(month date) returns void
language plpgsql set search_path from current as $$
declare
  part text := 'settled_usage_' || to_char(month, 'YYYY_MM');
  waited text := current_setting('lock_timeout');
begin
  if month is null or extract(day from month) <> 1 then
    raise exception 'ensure_settled_month: month must be the first day of a month, got %', month
      using errcode = 'invalid_parameter_value';
  end if;
  perform pg_advisory_xact_lock(7016001);
  if exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
              where i.inhparent = 'settled_usage'::regclass and c.relname = part) then
    return;
  end if;
  if to_regclass(part) is not null then
    raise exception 'ensure_settled_month: table % exists but is not a partition of settled_usage (a detached month?)', part
      using errcode = 'object_not_in_prerequisite_state',
            hint = 'usage settling into a detached month: attach it again, or archive it and drop it first';
  end if;
  perform set_config('lock_timeout', '200ms', true);
  lock table settled_usage in access exclusive mode;
  perform set_config('lock_timeout', waited, true);
  execute format('create table %I (like settled_usage including defaults including constraints)', part);
  execute format('alter table settled_usage attach partition %I for values from (%L) to (%L)',
                 part, month, (month + interval '1 month')::date);
  -- A statement naming the partition fires its own statement triggers, not the parent's.
  execute format('create trigger checked_insert after insert on %I referencing new table as written
                  for each statement execute function refuse_unsettled_usage()', part);
  execute format('create trigger checked_update after update on %I referencing new table as written
                  for each statement execute function refuse_unsettled_usage()', part);
  execute format('create trigger changed_insert after insert on %I referencing new table as written
                  for each statement execute function note_usage_change()', part);
  execute format('create trigger changed_update after update on %I referencing old table as cleared new table as written
                  for each statement execute function note_usage_change()', part);
  execute format('create trigger changed_delete after delete on %I referencing old table as cleared
                  for each statement execute function note_usage_change()', part);
end $$;
end $do$;
