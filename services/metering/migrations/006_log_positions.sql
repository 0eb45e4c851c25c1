-- A stored position is valid only for the log it was read from
-- (docs/contracts/metering.md, "Positions belong to a log").
--
-- `log` is the bus's LogIdentity.id (cluster or embedded bus, topic, topic id
-- or incarnation); null for a position stored before this migration, whose
-- log is unknown: it is read again from its start. `last_hash` is the sha256
-- of the message at next_offset − 1 (key, value, timestamp): when this process
-- first meets the partition, that message is read again and must be the same.
alter table consumer_positions
  add column log       text,
  add column last_hash text;

-- The log metering consumes for each topic and its partition count, as seen
-- when the consumer last started.
create table consumed_logs (
  topic      text primary key,
  log        text not null,
  partitions integer not null check (partitions > 0),
  seen_at    timestamptz not null default now()
);

-- Every change of log found, and what was done (GET /v1/stats `log_changes`,
-- logged as metering.log_changed). `partition` is null for the topic as a
-- whole (another log, or partitions added, seen at start).
create table log_changes (
  id          bigserial primary key,
  detected_at timestamptz not null default now(),
  topic       text not null,
  partition   integer,
  from_log    text,
  to_log      text not null,
  reason      text not null,
  action      text not null
);
