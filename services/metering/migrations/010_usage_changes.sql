-- Which apps' usage or ownership changed (issue 19; docs/contracts/metering.md,
-- "Published for invoicing"). Invoicing keeps per-day usage aggregates and
-- reads an app's usage live while a change of it waits here; its aggregate job
-- deletes the rows it has folded in, in the transaction that folds them.
-- Written by statement triggers, so every writer (the consumer, a replay, a
-- bulk load) is seen. One row per statement with the apps it touched, never
-- merged with a row already waiting (that row may belong to a fold that has
-- not committed, whose snapshot did not see this change): on the consumer's
-- hot path that is one heap row per batch and table, not one per app. The
-- queue stays short while the fold keeps up, so readers scan it.
create table usage_changes (
  id   bigint generated always as identity primary key,
  apps text[] collate "C" not null,
  at   timestamptz not null default now()
);

-- Who owns what, by account: a customer's draft starts from its apps.
create index app_ownership_by_account on app_ownership (account_id);

create function note_usage_change() returns trigger
language plpgsql set search_path from current as $$
begin
  if tg_op in ('INSERT', 'UPDATE') then
    insert into usage_changes (apps) select array_agg(distinct app_id) from written having count(*) > 0;
  end if;
  if tg_op in ('DELETE', 'UPDATE') then
    insert into usage_changes (apps) select array_agg(distinct app_id) from cleared having count(*) > 0;
  end if;
  return null;
end
$$;

create trigger usage_intervals_changed_insert after insert on usage_intervals
  referencing new table as written for each statement execute function note_usage_change();
create trigger usage_intervals_changed_update after update on usage_intervals
  referencing old table as cleared new table as written for each statement execute function note_usage_change();
create trigger usage_intervals_changed_delete after delete on usage_intervals
  referencing old table as cleared for each statement execute function note_usage_change();
create trigger app_ownership_changed_insert after insert on app_ownership
  referencing new table as written for each statement execute function note_usage_change();
create trigger app_ownership_changed_update after update on app_ownership
  referencing old table as cleared new table as written for each statement execute function note_usage_change();
create trigger app_ownership_changed_delete after delete on app_ownership
  referencing old table as cleared for each statement execute function note_usage_change();

-- Usage already here is queued too, a thousand apps a row: until folded it is read live.
insert into usage_changes (apps)
select array_agg(app_id order by app_id)
  from (select app_id, row_number() over (order by app_id) as n
          from (select app_id from usage_intervals union select app_id from app_ownership) a) numbered
 group by (n - 1) / 1000;
