-- Raw events split by the UTC month they were stored in (issue 19;
-- docs/contracts/metering.md, "Events by month"), so an archived month leaves
-- as a table instead of row by row. Their uniqueness is event_keys'
-- (migration 013); this table has only the index derivation reads.
--
-- Derivation reads every stored event of each subject a batch touches, and a
-- partitioned table has no index across months: probed in every month, 1,500
-- subjects cost 47–54 ms at 14 months against 5 ms in one table. So each read
-- is bounded below, and the months before the bound are pruned at run time:
-- a month is sealed an hour after it ends (no batch that began in it is still
-- storing), which records every subject it holds in `subject_months` (the
-- first sealed month holding it) and refuses any later insert into it. A
-- subject without a row has all its events in unsealed months, so its bound
-- is the first unsealed month; one with a row, its first month. Nothing is
-- written per event for this.
alter table events rename to events_before_014;
alter index events_by_subject rename to events_before_014_by_subject;

create table events (
  source       text collate "C" not null,
  id           text collate "C" not null,
  type         text not null,
  subject      text collate "C" not null,
  -- Any safe integer (migration 002).
  sequence     bigint not null check (sequence >= 1),
  time         timestamptz not null,
  data         jsonb not null,
  received_at  timestamptz not null default now(),
  -- The first day of the UTC month the row was stored in (moved forward only).
  stored_month date not null default date_trunc('month', now() at time zone 'UTC')::date
    check (extract(day from stored_month) = 1)
) partition by range (stored_month);
create index events_by_subject on events (subject, sequence);

-- One row: months before `month` are sealed.
create table events_sealed_before (
  one   boolean primary key default true check (one),
  month date not null check (extract(day from month) = 1)
);

-- Subjects with events in a sealed month, and the first such month.
create table subject_months (
  subject     text collate "C" primary key,
  first_month date not null
);

-- A month's partition, created once: apart, then attached, which locks the
-- events only against schema changes (SHARE UPDATE EXCLUSIVE) where creating
-- it as a partition would lock out every writer until commit. A sealed month
-- is never made again.
create function ensure_events_month(month date) returns void
language plpgsql set search_path from current as $$
declare
  part text := 'events_' || to_char(month, 'YYYY_MM');
begin
  if month is null or extract(day from month) <> 1 then
    raise exception 'ensure_events_month: month must be the first day of a month, got %', month
      using errcode = 'invalid_parameter_value';
  end if;
  if exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
              where i.inhparent = 'events'::regclass and c.relname = part) then
    return;
  end if;
  -- Two consumers meeting a new month: the second waits, then finds it.
  perform pg_advisory_xact_lock(7013001);
  if exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
              where i.inhparent = 'events'::regclass and c.relname = part) then
    return;
  end if;
  if month < (select s.month from events_sealed_before s) then
    raise exception 'ensure_events_month: % is sealed', to_char(month, 'YYYY-MM')
      using errcode = 'object_not_in_prerequisite_state';
  end if;
  execute format('create table %I (like events including defaults including constraints)', part);
  execute format('alter table events attach partition %I for values from (%L) to (%L)',
                 part, month, (month + interval '1 month')::date);
end $$;

create function refuse_sealed_month() returns trigger
language plpgsql as $$
begin
  raise exception 'events of % are sealed: no event may be stored in that month any more', to_char(new.stored_month, 'YYYY-MM')
    using errcode = 'object_not_in_prerequisite_state';
end $$;

-- Seals every month that ended more than an hour before `at`, oldest first;
-- returns how many. Each month's partition is locked against writers first,
-- so a batch still storing into it commits before its subjects are read.
create function seal_events_months(at timestamptz default now()) returns integer
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

-- The events as they are: each in the month it arrived; every month before
-- the oldest stored is sealed (there is nothing in it), then the rest as
-- seal_events_months finds them.
insert into events_sealed_before (month)
select coalesce(min(date_trunc('month', received_at at time zone 'UTC')), date_trunc('month', now() at time zone 'UTC'))::date
  from events_before_014;
select ensure_events_month(m::date)
  from generate_series((select month from events_sealed_before),
                       greatest(date_trunc('month', now() at time zone 'UTC') + interval '1 month',
                                (select max(date_trunc('month', received_at at time zone 'UTC')) from events_before_014)),
                       interval '1 month') m;
insert into events (source, id, type, subject, sequence, time, data, received_at, stored_month)
select source, id, type, subject, sequence, time, data, received_at,
       date_trunc('month', received_at at time zone 'UTC')::date
  from events_before_014;
drop table events_before_014;
select seal_events_months();
