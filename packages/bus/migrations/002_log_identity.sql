-- The embedded bus's own identity, and each topic's incarnation: offsets mean
-- something only in the log they were read from (docs/contracts/bus.md,
-- "Log identity"). A bus schema dropped and migrated again is another bus;
-- a topic row deleted and created again is another log.
create table identity (
  id  uuid not null default gen_random_uuid(),
  one boolean primary key default true check (one)
);
insert into identity default values;

alter table topics add column incarnation uuid not null default gen_random_uuid();
