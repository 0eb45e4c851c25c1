-- Follow-up of 019 for a database that applied its first version (commit
-- e301b58): finalize_runs had no `run`, which finalize writes. Each month
-- already there gets a run of its own, as 019 gives the months it finds: the
-- next run is another, so a killed one's month is counted started again and
-- completed by it. On any other database this does nothing
-- (docs/contracts/runtime.md, "Migrations edited after a release").
do $do$
begin
  if exists (select from schema_migrations where name = '019_finalize_runs.sql'
              and checksum = '987d21e5c32d68b2aa0db76d7ef91abc3b0926819ba0c944855781cb9203b0ba') then
    alter table finalize_runs add column if not exists run uuid;
    update finalize_runs set run = gen_random_uuid() where run is null;
    alter table finalize_runs alter column run set not null;
  end if;
end $do$;
