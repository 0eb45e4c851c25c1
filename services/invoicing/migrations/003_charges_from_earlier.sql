-- Follow-up of 003 for a database that applied its first version (commit
-- 6cdf113): it made an index charges_due the next version left out (the
-- charger's pass does not read it); it goes. On any other database this does
-- nothing (docs/contracts/runtime.md, "Migrations edited after a release").
do $do$
begin
  if exists (select from schema_migrations where name = '003_charges.sql'
              and checksum = '0d1af039b4c3d99bde0929d75e676ec2d4519317f8b3941551dbdbf5deb88b1d') then
    drop index if exists charges_due;
  end if;
end $do$;
