-- Follow-up of 001 for a database that applied its first version (commit
-- d153d58), which had no index lines_by_app: 013 drops that index, so its
-- upgrade failed there. Files of one number run in name order before the next
-- number's, so this runs before 013; on any other database it does nothing
-- (docs/contracts/runtime.md, "Migrations edited after a release").
do $do$
begin
  if exists (select from schema_migrations where name = '001_invoices.sql'
              and checksum = '551af999a839766fd88b0953e8ba1bbcb1433e883a9ed39543d786b8041cefe7')
     and not exists (select from schema_migrations where name = '013_invoice_apps.sql') then
    create index if not exists lines_by_app on invoice_lines (app_id);
  end if;
end $do$;
