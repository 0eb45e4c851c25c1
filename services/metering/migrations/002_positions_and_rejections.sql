-- The consumer's position in each partition, written in the same transaction
-- as the batch it applied: a batch replayed after a crash (its bus commit lost)
-- is recognised by offset and skipped, so even the counters stay exact.
create table consumer_positions (
  topic       text not null,
  partition   integer not null,
  next_offset bigint not null,
  updated_at  timestamptz not null default now(),
  primary key (topic, partition)
);

-- Rejections keep the exact bytes (a message need not be UTF-8 or free of NUL;
-- `raw` is its text for reading), where on the bus it was, and, once an
-- operator re-submits a fix, when and as which event.
alter table rejected_events drop column origin;
alter table rejected_events
  add column raw_bytes    bytea,
  add column raw_hash     text,
  add column bus_position text,
  add column resolved_at  timestamptz,
  add column resolved_by  text;
update rejected_events
   set raw_bytes = convert_to(raw, 'UTF8'),
       raw_hash = encode(sha256(convert_to(raw, 'UTF8')), 'hex');
alter table rejected_events
  alter column raw_bytes set not null,
  alter column raw_hash set not null;
-- The same bytes received again are one rejection, not two (at-least-once
-- delivery re-sends invalid messages too).
create unique index rejected_events_once on rejected_events (raw_hash);

-- The contract allows any safe integer as a sequence; integer would overflow.
alter table events alter column sequence type bigint;
alter table subject_gaps alter column missing_sequence type bigint;
