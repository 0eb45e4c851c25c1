-- Deduplication has its own table (issue 19; docs/contracts/metering.md,
-- "Storage"): one compact key per event ever stored, archived or not, unique
-- across the whole history. `events` keeps the payloads and no longer carries
-- the key's uniqueness, so it can be split by month (a unique index over a
-- partitioned table must contain the partition key, and an id is unique
-- whatever month it came in) and an archived month leaves it whole while its
-- keys stay here. The hash is stored as its 32 bytes.
create table event_keys (
  source       text collate "C" not null,
  id           text collate "C" not null,
  content_hash bytea not null,
  primary key (source, id)
);

insert into event_keys (source, id, content_hash)
select source, id, decode(content_hash, 'hex') from events
union all
select source, id, content_hash from archived_events;

drop table archived_events;
alter table events drop constraint events_pkey;
alter table events drop column content_hash;
