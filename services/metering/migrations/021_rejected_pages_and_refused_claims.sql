-- GET /v1/rejected?status=pending|resolved walks ids in order: without these it
-- walked the primary key through every rejection of the other status.
create index rejected_events_pending on rejected_events (id) where resolved_at is null;
create index rejected_events_resolved on rejected_events (id) where resolved_at is not null;

-- A claim whose event the store refused (overlapping usage, the horizon moved or
-- its subject archived while it waited on the bus) no longer holds its key: the
-- consumer marks it in the refusing transaction, and the next claim of other
-- content (a fix, same id) takes it over (claims.ts). Left live, it made the fix
-- answered "id reused" while the consumer applied it.
alter table intake_claims add column refused boolean not null default false;

-- Claims left by such refusals before this migration: key never stored, refused by the store.
update intake_claims c
   set refused = true
  from rejected_events r
 where r.reasons @> '[{"code": "store_refused"}]'
   and c.source = r.source collate "C" and c.id = r.event_id collate "C"
   and not exists (select from event_keys k where k.source = c.source and k.id = c.id);
