-- The usage horizon (issue 19; docs/contracts/metering.md, "Usage horizon").
-- Usage before it is final: `vault archive` moves it only past months that
-- invoicing holds final (invoiced, nothing held, no late usage still to
-- carry, nothing left to fold) and that ended before the retention's cut.
-- From then on the consumer refuses an event timed before it, invoicing never
-- reads usage before it again, and the archive writes the settled months
-- before it to files and drops their tables. It only ever moves forward.
create table usage_horizon (
  singleton boolean primary key default true check (singleton),
  month     date not null check (extract(day from month) = 1),
  moved_at  timestamptz not null default now()
);

create function refuse_horizon_back() returns trigger
language plpgsql set search_path from current as $$
begin
  if tg_op = 'DELETE' or new.month < old.month then
    raise exception 'the usage horizon only moves forward (% to %)', old.month, case when tg_op = 'DELETE' then null else new.month end
      using errcode = 'check_violation';
  end if;
  return new;
end $$;
create trigger usage_horizon_forward before update or delete on usage_horizon
  for each row execute function refuse_horizon_back();

-- Published for invoicing: the horizon's first instant and its month (no row: none yet).
create view billable_horizon as
  select month::timestamp at time zone 'UTC' as starts, to_char(month, 'YYYY-MM') as period from usage_horizon;

-- The archive's files of settled usage beside its files of events.
alter table archive_files add column kind text not null default 'events' check (kind in ('events', 'usage'));
alter table archive_files add column intervals integer;
