-- Follow-up of 014 for a database that applied its first version (commit
-- f692089): events.sequence was an integer (any safe integer is valid,
-- migration 002), and seal_events_months did not wait for an attach in flight.
-- On any other database this does nothing (docs/contracts/runtime.md,
-- "Migrations edited after a release").
do $do$
begin
  if not exists (select from schema_migrations where name = '014_events_by_month.sql'
                  and checksum = 'e176be4e8f22e96e4d27a1eab2363d4c3f6700d03864fafd454bfdaf78d920cf') then
    return;
  end if;
  if (select atttypid from pg_attribute where attrelid = 'events'::regclass and attname = 'sequence') = 'integer'::regtype then
    alter table events alter column sequence type bigint;
  end if;
-- 014's, as it is now (unindented: a function's text is kept as written).
create or replace function seal_events_months(at timestamptz default now()) returns integer
language plpgsql set search_path from current as $$
declare
  w date;
  part text;
  sealed integer := 0;
begin
  -- After any attach in flight (ensure_events_month's lock): a month attached late is sealed too.
  perform pg_advisory_xact_lock(7013001);
  select s.month into w from events_sealed_before s for update;
  while w < date_trunc('month', (at - interval '1 hour') at time zone 'UTC')::date loop
    part := 'events_' || to_char(w, 'YYYY_MM');
    if exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
                where i.inhparent = 'events'::regclass and c.relname = part) then
      execute format('lock table %I in share mode', part);
      execute format('insert into subject_months (subject, first_month) select distinct subject, %L::date from %I
                      on conflict (subject) do nothing', w, part);
      execute format('create trigger sealed before insert on %I for each row execute function refuse_sealed_month()', part);
    end if;
    w := (w + interval '1 month')::date;
    sealed := sealed + 1;
  end loop;
  update events_sealed_before set month = w;
  return sealed;
end $$;
end $do$;
