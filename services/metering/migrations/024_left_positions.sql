-- The position a partition had in a log when a batch from another log reset it
-- (docs/contracts/metering.md, "Positions belong to a log"): the embedded bus,
-- then Kafka, then the embedded bus again. Back in that log, the partition
-- resumes here (its anchor checked as at any first contact) instead of at 0,
-- whose messages the log may have trimmed since: no false hole. A row is taken
-- (deleted) by the batch that resumes from it, in that batch's transaction.
create table left_positions (
  topic       text not null,
  partition   integer not null,
  log         text not null,
  next_offset bigint not null check (next_offset > 0),
  last_hash   text not null,
  left_at     timestamptz not null default now(),
  primary key (topic, partition, log)
);
