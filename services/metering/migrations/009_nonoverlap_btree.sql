-- No overlapping usage, kept by the database at B-tree cost (issue 20; see
-- docs/contracts/metering.md, "Storage"). The GiST exclusion constraints cost
-- about 20 µs per interval row; a unique B-tree on (subject, lower(during))
-- plus a statement-level trigger that takes the subjects' advisory locks and
-- compares each written subject's intervals with their neighbours costs about
-- a third of that, and still refuses an overlap from any writer: a second
-- transaction writing the same subject waits for the first's lock, then (READ
-- COMMITTED: each statement of the trigger sees what committed) finds its rows
-- and is refused with SQLSTATE 23P01, as the exclusion constraint did.
-- Under SERIALIZABLE the check reads the index range the other writes, so
-- SSI refuses one of two writers (40001); REPEATABLE READ, whose snapshot would
-- not see the first writer's rows, is refused outright.

-- Subjects compared byte by byte, as in `events` (they are identifiers).
alter table usage_intervals alter column subject type text collate "C";

alter table usage_intervals drop constraint usage_intervals_no_overlap;
alter table app_ownership drop constraint app_ownership_no_overlap;
drop index usage_by_subject_id;
drop index ownership_by_app_subject_id;

-- Every interval starts at an event's time: a finite lower bound, so the
-- unique index (whose nulls would be distinct) holds every row.
alter table usage_intervals add constraint usage_intervals_starts check (not lower_inf(during));
alter table app_ownership add constraint app_ownership_starts check (not lower_inf(during));

-- One interval per subject and start; the neighbour check and the per-subject
-- clear both read through it. It replaces ownership_by_app (same leading column).
create unique index usage_intervals_by_start on usage_intervals (subject, lower(during));
create unique index app_ownership_by_start on app_ownership (app_id, lower(during));
drop index ownership_by_app;

-- Subject numbers existed only for the GiST constraints' bigint comparisons.
-- The columns stay, nullable and no longer written, for writers that set them.
alter table usage_intervals alter column subject_id drop not null;
alter table app_ownership alter column app_subject_id drop not null;
drop table subjects;

-- After each statement writing intervals: lock the written subjects (the
-- consumer's own key, hashtextextended(subject, 7001): it already holds them,
-- so it never waits here), then look for two adjacent intervals of one of
-- those subjects, in start order, that overlap. Adjacent pairs suffice: in a
-- start-ordered list, an overlapping pair implies an overlapping adjacent one.
-- A statement writing more than 2,000 subjects (a bulk load; a consumer batch
-- holds at most 2,000 messages) locks the table against other writers instead
-- (SHARE ROW EXCLUSIVE: it waits for every writer in flight to commit, and
-- the others wait for it): as many advisory locks would fill the lock table.
-- `set search_path from current`: the function names its tables unqualified
-- and must find them in this schema whatever the writer's search_path.
create function refuse_overlapping_usage() returns trigger
language plpgsql set search_path from current as $$
declare
  clash record;
begin
  if current_setting('transaction_isolation') = 'repeatable read' then
    raise exception '%.% is written under READ COMMITTED or SERIALIZABLE only', tg_table_schema, tg_table_name
      using errcode = 'object_not_in_prerequisite_state',
            hint = 'under REPEATABLE READ the overlap check could not see an interval committed meanwhile';
  end if;
  if tg_table_name = 'usage_intervals' then
    if (select count(distinct n.subject) from written n) > 2000 then
      lock table usage_intervals in share row exclusive mode;
    else
      perform pg_advisory_xact_lock(hashtextextended(s.subject, 7001))
         from (select distinct n.subject from written n order by 1) s;
    end if;
    select s.subject as key, w.prev, w.during into clash
      from (select distinct n.subject from written n) s
      cross join lateral (
        select u.during, lag(u.during) over (order by lower(u.during)) as prev
          from usage_intervals u where u.subject = s.subject
      ) w
     where w.prev && w.during
     limit 1;
  else
    if (select count(distinct n.app_id) from written n) > 2000 then
      lock table app_ownership in share row exclusive mode;
    else
      perform pg_advisory_xact_lock(hashtextextended(s.app_id, 7001))
         from (select distinct n.app_id from written n order by 1) s;
    end if;
    select s.app_id as key, w.prev, w.during into clash
      from (select distinct n.app_id from written n) s
      cross join lateral (
        select o.during, lag(o.during) over (order by lower(o.during)) as prev
          from app_ownership o where o.app_id = s.app_id
      ) w
     where w.prev && w.during
     limit 1;
  end if;
  if found then
    raise exception 'conflicting key value violates exclusion constraint "%_no_overlap"', tg_table_name
      using errcode = 'exclusion_violation',
            detail = format('Key (%s, during)=(%s, %s) overlaps %s.', case when tg_table_name = 'usage_intervals' then 'subject' else 'app_id' end,
                            clash.key, clash.during, clash.prev),
            schema = tg_table_schema, table = tg_table_name, constraint = tg_table_name || '_no_overlap';
  end if;
  return null;
end
$$;

create trigger usage_intervals_no_overlap_insert after insert on usage_intervals
  referencing new table as written for each statement execute function refuse_overlapping_usage();
create trigger usage_intervals_no_overlap_update after update on usage_intervals
  referencing new table as written for each statement execute function refuse_overlapping_usage();
create trigger app_ownership_no_overlap_insert after insert on app_ownership
  referencing new table as written for each statement execute function refuse_overlapping_usage();
create trigger app_ownership_no_overlap_update after update on app_ownership
  referencing new table as written for each statement execute function refuse_overlapping_usage();
