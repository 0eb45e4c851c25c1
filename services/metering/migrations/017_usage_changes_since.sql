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

-- Per app, not per statement: a consumer batch writes many subjects, and one
-- long-lived among them must not send every app of the batch back to its
-- month. One row per UTC month among the apps' own earliest starts (a batch's
-- apps share a few), each with the apps of that month.
-- The archive's move of settled usage (settle_usage, migration 016) changes
-- nothing invoicing reads: it says so in `metering.settling`, and is not queued.
create or replace function note_usage_change() returns trigger
language plpgsql set search_path from current as $$
begin
  if current_setting('metering.settling', true) = 'on' then
    return null;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into usage_changes (apps, since)
    select array_agg(a.app_id order by a.app_id), min(a.since)
      from (select app_id, min(lower(during)) as since from written group by app_id) a
     group by date_trunc('month', a.since, 'UTC');
  end if;
  if tg_op in ('DELETE', 'UPDATE') then
    insert into usage_changes (apps, since)
    select array_agg(a.app_id order by a.app_id), min(a.since)
      from (select app_id, min(lower(during)) as since from cleared group by app_id) a
     group by date_trunc('month', a.since, 'UTC');
  end if;
  return null;
end
$$;
