-- The log partitioned by UTC month of published_at (issue 19), so a month
-- every group has read past goes as one partition dropped rather than row by
-- row, and an old month can be detached and archived (docs/contracts/bus.md,
-- "Monthly partitions"). The DEFAULT partition takes a row whose month has no
-- partition yet, so a publish never fails; the trim loop creates the coming
-- months and moves such rows into theirs (src/embedded-months.ts).
-- The primary key must hold the partition key. (topic, partition, "offset")
-- stays unique without it: the publisher allocates offsets under its
-- partition's row lock. Its leading columns serve every read by offset range.
alter table messages rename to messages_unpartitioned;
alter index messages_pkey rename to messages_unpartitioned_pkey;

create table messages (
  topic        text not null,
  partition    integer not null,
  "offset"     bigint not null,
  key          text not null,
  value        bytea not null,
  published_at timestamptz not null default now(),
  primary key (topic, partition, "offset", published_at)
) partition by range (published_at);

create table messages_default partition of messages default;

-- A partition for every month the log holds, and for this month and the next:
-- publishes land in their month even before the trim loop first runs.
do $$
declare
  month timestamp; -- the month's first instant, UTC
begin
  for month in
    select distinct date_trunc('month', published_at at time zone 'UTC') from bus.messages_unpartitioned
    union select date_trunc('month', now() at time zone 'UTC')
    union select date_trunc('month', now() at time zone 'UTC') + interval '1 month'
  loop
    execute format('create table bus.%I partition of bus.messages for values from (%L) to (%L)',
                   'messages_' || to_char(month, 'YYYY_MM'), month::text || '+00',
                   (month + interval '1 month')::text || '+00');
  end loop;
end $$;

insert into messages (topic, partition, "offset", key, value, published_at)
select topic, partition, "offset", key, value, published_at from messages_unpartitioned;

-- 004's trigger function names bus.messages, resolved when it runs: it now
-- deletes from the partitioned table.
drop table messages_unpartitioned;
