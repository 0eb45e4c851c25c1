-- From when each queued change counts (issue 19; docs/contracts/metering.md,
-- "Published for invoicing"). A statement writing usage or ownership changes
-- nothing before the earliest start among the rows it writes or clears: an
-- interval [a, b) becoming [a, c), a span moved, a row deleted, all change
-- what lies from their lower bound on. So the row it queues says so, and
-- invoicing's fold computes an app's aggregates again from that month on
-- instead of over the app's whole history (settled months included, which
-- then are never read by it for a change later than they are). Null: from
-- the beginning (rows queued before this migration, or by a writer that says
-- nothing).
alter table usage_changes add column since timestamptz;

create or replace function note_usage_change() returns trigger
language plpgsql set search_path from current as $$
begin
  if tg_op in ('INSERT', 'UPDATE') then
    insert into usage_changes (apps, since)
    select array_agg(distinct app_id), min(lower(during)) from written having count(*) > 0;
  end if;
  if tg_op in ('DELETE', 'UPDATE') then
    insert into usage_changes (apps, since)
    select array_agg(distinct app_id), min(lower(during)) from cleared having count(*) > 0;
  end if;
  return null;
end
$$;
