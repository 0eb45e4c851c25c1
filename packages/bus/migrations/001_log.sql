-- The embedded bus: a durable, partitioned log with consumer-group offsets.
create table topics (
  topic      text primary key,
  partitions integer not null check (partitions > 0)
);

-- One row per partition; its row lock serialises publishers so offsets become
-- visible in order, with no hole a reader could skip past.
create table partitions (
  topic       text not null references topics,
  partition   integer not null,
  next_offset bigint not null default 0,
  primary key (topic, partition)
);

create table messages (
  topic        text not null,
  partition    integer not null,
  "offset"     bigint not null,
  key          text not null,
  value        bytea not null,
  published_at timestamptz not null default now(),
  primary key (topic, partition, "offset")
);

create table group_offsets (
  group_id    text not null,
  topic       text not null,
  partition   integer not null,
  next_offset bigint not null,
  committed_at timestamptz not null default now(),
  primary key (group_id, topic, partition)
);
