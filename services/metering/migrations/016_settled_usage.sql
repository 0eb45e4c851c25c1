-- Settled usage, by month (issue 19; docs/contracts/metering.md, "Settled
-- usage"). A usage interval that came from archived events can never change
-- again: its subject is closed (a new event of it is refused) or derived
-- again only from its kept event on (`frozen_before`). `vault archive` moves
-- those out of the live table, in the transaction that deletes their events,
-- into a table partitioned by the UTC month the usage ended in — so the live
-- table, which every batch reads and writes per subject, holds only what can
-- still change, and the settled months are tables of their own, never written
-- again once archived. Ownership stays whole in app_ownership: a span per app
-- and transfer, it grows with apps, not events, and a union on both sides of
-- invoicing's usage-by-ownership joins turned its merge joins into nested
-- loops (a fold of 200,000 apps: minutes instead of 45 s).

-- The UTC month holding an interval's last instant (its upper bound is excluded).
create function settled_month(during tstzrange) returns date
language sql immutable strict parallel safe
return (date_trunc('month', (upper(during) - interval '1 microsecond') at time zone 'UTC'))::date;

create table settled_usage (
  subject    text collate "C" not null,
  kind       text not null check (kind in ('dyno', 'addon')),
  app_id     text not null,
  key        text not null,
  product    text not null,
  during     tstzrange not null check (not isempty(during) and not lower_inf(during) and not upper_inf(during)),
  learned_at timestamptz not null,
  month      date not null check (month = settled_month(during))
) partition by range (month);
create unique index settled_usage_by_start on settled_usage (subject, lower(during), month);
create index settled_usage_by_app on settled_usage (app_id);

-- A month's table, created apart and attached (attaching locks the parent
-- only against other attaches, never against readers), once.
create function ensure_settled_month(month date) returns void
language plpgsql set search_path from current as $$
declare
  part text := 'settled_usage_' || to_char(month, 'YYYY_MM');
begin
  if month is null or extract(day from month) <> 1 then
    raise exception 'ensure_settled_month: month must be the first day of a month, got %', month
      using errcode = 'invalid_parameter_value';
  end if;
  perform pg_advisory_xact_lock(7016001);
  if exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
              where i.inhparent = 'settled_usage'::regclass and c.relname = part) then
    return;
  end if;
  if to_regclass(part) is not null then
    raise exception 'ensure_settled_month: table % exists but is not a partition of settled_usage (a detached month?)', part
      using errcode = 'object_not_in_prerequisite_state',
            hint = 'usage settling into a detached month: attach it again, or archive it and drop it first';
  end if;
  execute format('create table %I (like settled_usage including defaults including constraints)', part);
  execute format('alter table settled_usage attach partition %I for values from (%L) to (%L)',
                 part, month, (month + interval '1 month')::date);
  -- A statement naming the partition fires its own statement triggers, not the parent's.
  execute format('create trigger checked_insert after insert on %I referencing new table as written
                  for each statement execute function refuse_unsettled_usage()', part);
  execute format('create trigger checked_update after update on %I referencing new table as written
                  for each statement execute function refuse_unsettled_usage()', part);
  execute format('create trigger changed_insert after insert on %I referencing new table as written
                  for each statement execute function note_usage_change()', part);
  execute format('create trigger changed_update after update on %I referencing old table as cleared new table as written
                  for each statement execute function note_usage_change()', part);
  execute format('create trigger changed_delete after delete on %I referencing old table as cleared
                  for each statement execute function note_usage_change()', part);
end $$;

-- Live usage of an archived subject starts at or after its kept event: what
-- started before came from archived events and is settled (or is moved there
-- by the archive's transaction that set `frozen_before`), so no live interval
-- can overlap a settled one. Checked for any writer, after each statement, one
-- primary-key probe per subject written; the overlap among live rows stays
-- refuse_overlapping_usage's (migration 009).
create function refuse_unsettling_usage() returns trigger
language plpgsql set search_path from current as $$
declare
  clash record;
begin
  select w.subject, w.first, a.frozen_before into clash
    from (select n.subject, min(lower(n.during)) as first from written n group by 1) w
    join archived_subjects a on a.subject = w.subject
   where a.closed or w.first < a.frozen_before
   limit 1;
  if found then
    raise exception 'conflicting key value violates exclusion constraint "usage_intervals_no_overlap"'
      using errcode = 'exclusion_violation',
            detail = format('%s is archived: its usage before %s is settled; its live usage cannot start at %s.',
                            clash.subject, coalesce(clash.frozen_before::text, 'its end'), clash.first),
            schema = tg_table_schema, table = tg_table_name, constraint = 'usage_intervals_no_overlap';
  end if;
  return null;
end
$$;

create trigger usage_intervals_settled_insert after insert on usage_intervals
  referencing new table as written for each statement execute function refuse_unsettling_usage();
create trigger usage_intervals_settled_update after update on usage_intervals
  referencing new table as written for each statement execute function refuse_unsettling_usage();

-- What is settled must be: its subject archived, closed or ended by its kept
-- event; and it overlaps nothing of its subject, settled or live. Written only
-- by the archive, offline: the check reads every month of the subject.
create function refuse_unsettled_usage() returns trigger
language plpgsql set search_path from current as $$
declare
  clash record;
begin
  -- The consumer's subject locks, or (a bulk write: as many advisory locks
  -- would fill the lock table) the live table against every writer, as 009 does.
  if (select count(distinct n.subject) from written n) > 2000 then
    lock table usage_intervals in share row exclusive mode;
  else
    perform pg_advisory_xact_lock(hashtextextended(s.subject, 7001))
       from (select distinct n.subject from written n order by 1) s;
  end if;
  select n.subject, n.during, null::tstzrange as prev into clash
    from written n left join archived_subjects a on a.subject = n.subject
   where a.subject is null or not (a.closed or upper(n.during) <= a.frozen_before)
   limit 1;
  if not found then
    select s.subject, w.during, w.prev into clash
      from (select distinct n.subject from written n) s
      cross join lateral (
        select x.during, lag(x.during) over (order by lower(x.during)) as prev
          from (select u.during from settled_usage u where u.subject = s.subject
                union all
                select u.during from usage_intervals u where u.subject = s.subject) x
      ) w
     where w.prev && w.during
     limit 1;
  end if;
  if found then
    raise exception 'conflicting key value violates exclusion constraint "settled_usage_no_overlap"'
      using errcode = 'exclusion_violation',
            detail = case when clash.prev is null
                          then format('%s %s is not settled: its subject is not archived, or it ends after its kept event.', clash.subject, clash.during)
                          else format('Key (subject, during)=(%s, %s) overlaps %s.', clash.subject, clash.during, clash.prev) end,
            schema = tg_table_schema, table = tg_table_name, constraint = 'settled_usage_no_overlap';
  end if;
  return null;
end
$$;

create trigger settled_usage_checked_insert after insert on settled_usage
  referencing new table as written for each statement execute function refuse_unsettled_usage();
create trigger settled_usage_checked_update after update on settled_usage
  referencing new table as written for each statement execute function refuse_unsettled_usage();

-- Invoicing reads settled usage too: a change of it is queued like a change of
-- live usage (migration 010), except the archive's move, which changes
-- nothing invoicing reads (settle_usage says so for its statement).
create trigger settled_usage_changed_insert after insert on settled_usage
  referencing new table as written for each statement execute function note_usage_change();
create trigger settled_usage_changed_update after update on settled_usage
  referencing old table as cleared new table as written for each statement execute function note_usage_change();
create trigger settled_usage_changed_delete after delete on settled_usage
  referencing old table as cleared for each statement execute function note_usage_change();

-- Moves what the given archived subjects have settled out of the live table:
-- a closed subject's intervals, an open one's that start before its kept
-- event; returns how many. The caller holds their subject locks (the
-- archive's file transaction). A month's table is made in it.
create function settle_usage(subjects text[]) returns bigint
language plpgsql set search_path from current as $$
declare
  m date;
  moved_rows bigint;
begin
  for m in
    select distinct settled_month(u.during)
      from usage_intervals u join archived_subjects a on a.subject = u.subject
     where u.subject = any(subjects) and (a.closed or lower(u.during) < a.frozen_before)
  loop
    perform ensure_settled_month(m);
  end loop;
  -- The union invoicing reads stays as it was: nothing to queue (note_usage_change, migration 017).
  perform set_config('metering.settling', 'on', true);
  with moved as (
    delete from usage_intervals u using archived_subjects a
     where u.subject = any(subjects) and a.subject = u.subject and (a.closed or lower(u.during) < a.frozen_before)
    returning u.*
  )
  insert into settled_usage (subject, kind, app_id, key, product, during, learned_at, month)
  select subject, kind, app_id, key, product, during, learned_at, settled_month(during) from moved;
  get diagnostics moved_rows = row_count;
  perform set_config('metering.settling', 'off', true);
  return moved_rows;
end $$;

-- Invoicing reads both, as before: the union is the usage it always read.
-- `last_month`, appended (the view's columns stay as they were): the UTC month
-- holding a settled interval's last instant, 'infinity' for live usage (it may
-- still change). A reader of a window says `last_month >= <the window's first
-- month>`, and the months' tables before it are pruned: without it, every
-- per-app read probes every month's table (bench:usage with 13 settled months:
-- p99 89 ms against 15 ms).
create or replace view billable_usage as
  select app_id, kind, key, product, during, learned_at, 'infinity'::date as last_month from usage_intervals
  union all
  select app_id, kind, key, product, during, learned_at, month from settled_usage;

-- What earlier runs of the archive left in the live table settles now.
select settle_usage(array(select subject from archived_subjects));
