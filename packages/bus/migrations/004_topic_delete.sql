-- A topic row deleted takes its log with it: its partitions, its messages and
-- its groups' offsets. Offsets mean something only in the log they were read
-- from; kept, a stale high offset would outlive a topic created again, and
-- trimming would delete what the group never read in the new log
-- (docs/contracts/bus.md, "A topic deleted"). The groups stay registered
-- (bus.groups): with no offset they hold trimming back until they commit in
-- the new log. BEFORE: the row is locked first, so a commit that holds it
-- (for key share) finishes before, and one that comes after finds no row.
create function forget_topic_log() returns trigger language plpgsql as $$
begin
  -- Partitions first: a publish in flight holds their rows, and its messages
  -- are committed before they are deleted below.
  delete from bus.partitions where topic = old.topic;
  delete from bus.messages where topic = old.topic;
  delete from bus.group_offsets where topic = old.topic;
  return old;
end $$;

create trigger forget_topic_log before delete on topics
  for each row execute function forget_topic_log();

-- What topics deleted before this migration left behind: offsets and messages
-- of no topic, and of a partition past its end (a log that is gone; its
-- messages would also collide with the new log's offsets).
delete from group_offsets o
 where not exists (select 1 from partitions p
                    where p.topic = o.topic and p.partition = o.partition and o.next_offset <= p.next_offset);
delete from messages m
 where not exists (select 1 from partitions p
                    where p.topic = m.topic and p.partition = m.partition and m."offset" < p.next_offset);
