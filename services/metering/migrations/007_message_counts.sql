-- How every message read off the bus ended, per partition of a log and per
-- source (GET /v1/stats `sources` and `partitions`, summed from these rows when
-- read). Written in the batch's own transaction, so for each row
-- read = applied + duplicate + rejected, and a partition's `read` is how far
-- its position in that log advanced since this migration. `log` is the log's
-- identity (a topic recreated is another log, its offsets start again).
--
-- One row per (log, partition, source), not per source: only the transaction
-- holding the partition's position row writes that partition's rows, so two
-- partitions batching at once never wait for each other here (one global row
-- per source would be a lock every partition takes).
--
-- `source` is the event's; '' stands for a message without a readable one
-- (not JSON, no string `source`, or an empty one): the API shows it as null.
create table message_counts (
  log       text not null,
  topic     text not null,
  partition integer not null,
  source    text collate "C" not null,
  read      bigint not null default 0 check (read >= 0),
  applied   bigint not null default 0 check (applied >= 0),
  duplicate bigint not null default 0 check (duplicate >= 0),
  rejected  bigint not null default 0 check (rejected >= 0),
  primary key (log, partition, source)
);
