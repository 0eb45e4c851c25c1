-- Follow-up of 011 for a database that applied its first version (commit
-- 5cf4228): archive_files had no `dir`. That version wrote each file into its
-- run's own directory, which the database never knew: rows from then get ''
-- (unknown). A `done` one's dir is never read again (it has no part); a
-- `writing` one, left by a run killed then, is removed from the working
-- directory as `vault archive` finds it, and a file that run left under its
-- name in ARCHIVE_DIR stops the next run, named, until it is removed. On any
-- other database this does nothing (docs/contracts/runtime.md, "Migrations
-- edited after a release").
do $do$
begin
  if not exists (select from schema_migrations where name = '011_archived_events.sql'
                  and checksum = '777abdaca000727cb45ae312c6f616eed8d11acfbf4994cea9866f7c6275f5fe') then
    return;
  end if;
  alter table archive_files add column if not exists dir text;
  update archive_files set dir = '' where dir is null;
  alter table archive_files alter column dir set not null;
end $do$;
