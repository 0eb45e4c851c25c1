-- Follow-up of 015 for a database that applied its first version (commit
-- 718bb26): an email's notice could be changed, since no trigger refused it.
-- On any other database this does nothing (docs/contracts/runtime.md,
-- "Migrations edited after a release").
do $do$
begin
  if exists (select from schema_migrations where name = '015_emails_notice_check.sql'
              and checksum = '42d6d09bf5369ce24cd7f3975aab2bc99df47065a95f65068be15dbe35868bab') then
    create or replace trigger email_deliveries_notice_fixed before update of notice_id on email_deliveries
      for each row execute function refuse_change();
  end if;
end $do$;
