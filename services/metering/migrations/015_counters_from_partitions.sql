-- The global counters (GET /v1/stats events_applied, events_duplicate,
-- events_rejected) are the partitions' counts summed when read (issue 20;
-- docs/contracts/metering.md, "One lock order per batch"). Updated by every
-- batch, their three rows were the one lock all partitions shared, held
-- through each commit's flush: the partitions' commits queued behind one
-- another instead of sharing a flush. `counters` now holds only what was
-- counted before message_counts existed (migration 007), and is no longer
-- written.
update counters c
   set value = c.value - coalesce((
     select sum(case c.name when 'events_applied' then m.applied
                            when 'events_duplicate' then m.duplicate
                            else m.rejected end)
       from message_counts m), 0);
