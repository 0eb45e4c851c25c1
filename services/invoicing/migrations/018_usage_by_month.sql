-- The usage aggregates by month (issue 19; docs/contracts/invoicing.md, "Usage
-- aggregates", "Final months"). usage_days grows with apps × days and
-- usage_months with apps × months, for ever, while before metering's usage
-- horizon (metering migration 018) both are final and billing never reads
-- them again. So both are partitioned by UTC month — usage_days_YYYY_MM by
-- day, usage_months_YYYY_MM by month — made by ensure_usage_month as the fold
-- reaches a month, and `vault archive` drops the months before the horizon
-- (the usage behind them is in its files, the money in the invoices).

alter table usage_days rename to usage_days_before_018;
alter index usage_days_pkey rename to usage_days_before_018_pkey;
alter index usage_days_by_app rename to usage_days_before_018_by_app;
drop trigger usage_days_written_by_fold on usage_days_before_018;
alter table usage_months rename to usage_months_before_018;
alter index usage_months_pkey rename to usage_months_before_018_pkey;
alter index usage_months_by_app rename to usage_months_before_018_by_app;

create table usage_days (
  account_id text collate "C" not null,
  -- The UTC day's first instant.
  day        timestamptz not null,
  app_id     text collate "C" not null,
  kind       text not null,
  key        text not null,
  product    text not null,
  ms         bigint not null check (ms > 0),
  month      timestamptz not null,
  primary key (account_id, day, app_id, kind, key, product)
) partition by range (day);
create index usage_days_by_app on usage_days (app_id);

create table usage_months (
  month      timestamptz not null,
  account_id text collate "C" not null,
  app_id     text collate "C" not null,
  kind       text not null,
  key        text not null,
  product    text not null,
  ms         bigint not null check (ms > 0),
  primary key (month, account_id, app_id, kind, key, product) include (ms)
) partition by range (month);
create index usage_months_by_app on usage_months (app_id);

-- A UTC month's tables of both (`month`: its first instant), created apart and
-- attached, once. A statement planned before a month's table is attached and
-- run after rows went into it would not read them (its plan has no such
-- partition): so a month is made under an exclusive lock of both tables, taken
-- before and held to the end of the transaction — a reader that planned before
-- finishes first, one after plans again. While the lock is asked for, new
-- readers queue behind it, so it is asked for 200 ms at most a table (55P03
-- then; the caller tries again later): the fold makes the months ahead and the
-- months its queue needs in transactions of their own, so a month is rarely
-- made inside one. A month's table left detached by a killed drop stops it, named.
create function ensure_usage_month(month timestamptz) returns void
language plpgsql set search_path from current as $$
declare
  first timestamp := month at time zone 'UTC';
  parent text;
  part text;
  waited text := current_setting('lock_timeout');
  locked boolean := false;
begin
  if month is null or first <> date_trunc('month', first) then
    raise exception 'ensure_usage_month: month must be a UTC month''s first instant, got %', month
      using errcode = 'invalid_parameter_value';
  end if;
  perform pg_advisory_xact_lock(7018101);
  foreach parent in array array['usage_days', 'usage_months'] loop
    part := parent || '_' || to_char(first, 'YYYY_MM');
    continue when exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
                           where i.inhparent = parent::regclass and c.relname = part);
    if to_regclass(part) is not null then
      raise exception 'ensure_usage_month: table % exists but is not a partition of % (a month being dropped?)', part, parent
        using errcode = 'object_not_in_prerequisite_state',
              hint = 'run vault archive again: it finishes dropping the months before the usage horizon';
    end if;
    if not locked then
      perform set_config('lock_timeout', '200ms', true);
      lock table usage_days, usage_months in access exclusive mode;
      perform set_config('lock_timeout', waited, true);
      locked := true;
    end if;
    execute format('create table %I (like %I including defaults including constraints)', part, parent);
    -- Bounds written as UTC instants, whatever the session's TimeZone and DateStyle.
    execute format('alter table %I attach partition %I for values from (%L) to (%L)', parent, part,
                   to_char(first, 'YYYY-MM-DD HH24:MI:SS') || '+00', to_char(first + interval '1 month', 'YYYY-MM-DD HH24:MI:SS') || '+00');
  end loop;
end $$;

select ensure_usage_month(m)
  from (select date_trunc('month', day, 'UTC') as m from usage_days_before_018
        union
        select month from usage_months_before_018) months;
insert into usage_days (account_id, day, app_id, kind, key, product, ms, month)
select account_id, day, app_id, kind, key, product, ms, month from usage_days_before_018;
insert into usage_months (month, account_id, app_id, kind, key, product, ms)
select month, account_id, app_id, kind, key, product, ms from usage_months_before_018;
drop table usage_days_before_018;
drop table usage_months_before_018;

-- Migration 017's guard, on the new table (after the copy, which is no fold).
create trigger usage_days_written_by_fold before insert on usage_days
  for each statement execute function usage_days_written_by_fold();
