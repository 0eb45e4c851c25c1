-- Follow-up of 012 for a database that applied its first version (commit
-- fa5533e): usage_days had no `month`, which the fold writes and finalize
-- reads. Filled from each row's day, as 012 does. On any other database this
-- does nothing (docs/contracts/runtime.md, "Migrations edited after a release").
do $do$
begin
  if exists (select from schema_migrations where name = '012_usage_months.sql'
              and checksum = '6fe608e2b11a02ea6eef4d28efd8344b05777ccf2928a18d819af92e187cfe22') then
    alter table usage_days add column if not exists month timestamptz;
    update usage_days set month = date_trunc('month', day, 'UTC') where month is null;
    alter table usage_days alter column month set not null;
  end if;
end $do$;
