-- Which logs the notices were published to, and how far in each. A log is a
-- topic's incarnation on a cluster (the bus's describeLog id): a topic deleted
-- and created again, another cluster or another topic is another log, and
-- holds none of what was published before. Every notice whose position is at
-- most `published_through` was acknowledged by that log; a log seen for the
-- first time starts at 0, so it gets every notice again, in order.
create table notices_logs (
  log               text collate "C" primary key,
  topic             text not null,
  published_through bigint not null default 0 check (published_through >= 0),
  first_seen_at     timestamptz not null default now(),
  -- The last time it was published to: the newest is the log of the last publish.
  used_at           timestamptz not null default now()
);
