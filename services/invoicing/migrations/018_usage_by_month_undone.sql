-- A database migrated between commits 5bd3c6f and c32003a applied a migration
-- 018_usage_by_month.sql that was then removed: usage_days and usage_months
-- partitioned by month, each month's table made by ensure_usage_month, which
-- nothing calls any more, so the fold's first write into a month without its
-- table failed. Both become the one table each they are everywhere else, with
-- every row; on any other database this does nothing (docs/contracts/runtime.md,
-- "Migrations edited after a release").
do $do$
begin
  if exists (select from schema_migrations where name = '018_usage_by_month.sql')
     and (select relkind from pg_class where oid = 'usage_days'::regclass) = 'p' then
    create temporary table usage_days_by_month on commit drop as select * from usage_days;
    create temporary table usage_months_by_month on commit drop as select * from usage_months;
    drop table usage_days, usage_months;
    drop function if exists ensure_usage_month(timestamptz);
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
    );
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
    );
    create index usage_months_by_app on usage_months (app_id);
    insert into usage_days (account_id, day, app_id, kind, key, product, ms, month)
    select account_id, day, app_id, kind, key, product, ms, month from usage_days_by_month;
    insert into usage_months (month, account_id, app_id, kind, key, product, ms)
    select month, account_id, app_id, kind, key, product, ms from usage_months_by_month;
    -- Migration 017's guard, on the new table (after the copy, which is no fold).
    create trigger usage_days_written_by_fold before insert on usage_days
      for each statement execute function usage_days_written_by_fold();
  end if;
end $do$;
