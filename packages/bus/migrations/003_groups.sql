-- The groups that read each topic, known from a member's first start rather
-- than from a first commit: a group that has read nothing yet holds trimming
-- back too (docs/contracts/bus.md, "Trimming"). Groups that committed before
-- this migration are taken from their offsets.
create table groups (
  topic     text not null,
  group_id  text not null,
  joined_at timestamptz not null default now(),
  primary key (topic, group_id)
);
insert into groups (topic, group_id)
select distinct topic, group_id from group_offsets;
