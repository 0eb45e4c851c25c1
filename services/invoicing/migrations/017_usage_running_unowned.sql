-- Issue 19: finalize's first chunk waited 1.5 s for two statements that each
-- scanned the month's every interval: the live usage (to find the running
-- intervals) and the unowned-usage holds. The fold keeps what they need beside
-- usage_days and usage_months, for the same apps, in the same transaction
-- (docs/contracts/invoicing.md, "Usage aggregates"), so finalize reads the
-- queue's apps live and the rest from here, as it reads usage_months.

-- The running intervals of each folded app, as metering had them at the fold.
create table usage_running (
  app_id  text not null,
  kind    text not null,
  key     text not null,
  product text not null,
  during  tstzrange not null
);
create index usage_running_by_app on usage_running (app_id);

-- Per UTC month and app, the milliseconds of the app's closed intervals that no
-- owner covered: each piece of (interval − all of the app's ownership), cut at
-- the months' bounds, measured as UNOWNED measures a piece ((A ∩ m) − (O ∩ m)
-- is (A − O) ∩ m, piece by piece). A row is kept when a piece exists even if it
-- measures 0 ms (a sub-millisecond piece): UNOWNED holds the app then too.
create table unowned_months (
  month  timestamptz not null,
  app_id text not null,
  ms     bigint not null check (ms >= 0),
  primary key (month, app_id)
);
create index unowned_months_by_app on unowned_months (app_id);

-- Everything already folded gets its rows now, from metering's views, in this
-- migration's transaction; an app with a change queued is read live anyway.
-- Without metering's views (invoicing's schema alone) nothing was folded.
do $$
begin
  if to_regclass('metering.billable_usage') is null then
    return;
  end if;
  insert into usage_running (app_id, kind, key, product, during)
  select app_id, kind, key, product, during from metering.billable_usage where upper_inf(during);

  insert into unowned_months (month, app_id, ms)
  select m.month at time zone 'UTC', u.app_id,
         sum(floor(extract(epoch from upper(p.r)) * 1000) - floor(extract(epoch from lower(p.r)) * 1000))
    from metering.billable_usage u
    left join (select app_id, range_agg(during) as owned from metering.billable_ownership group by 1) o on o.app_id = u.app_id
    cross join lateral unnest(tstzmultirange(u.during) - coalesce(o.owned, '{}'::tstzmultirange)) x(r)
    cross join lateral generate_series(date_trunc('month', lower(x.r) at time zone 'UTC'),
                                       date_trunc('month', (upper(x.r) - interval '1 microsecond') at time zone 'UTC'),
                                       interval '1 month') m(month)
    cross join lateral (select x.r * tstzrange(m.month at time zone 'UTC', (m.month + interval '1 month') at time zone 'UTC', '[)') as r) p
   where not upper_inf(u.during)
   group by 1, 2;
end $$;

-- A fold of code older than this migration (a process still running during a
-- rolling deploy) would fold apps without keeping these rows: they would go
-- stale while the queue says the app is folded. The fold says it keeps them;
-- a fold that does not is refused, so its changes stay queued (read live).
create function usage_days_written_by_fold() returns trigger
language plpgsql as $$
begin
  if coalesce(current_setting('invoicing.fold_keeps', true), '') <> 'running and unowned' then
    raise exception 'insert into invoicing.usage_days refused: the fold keeps usage_running and unowned_months in the same transaction (migration 017)'
      using errcode = 'insufficient_privilege';
  end if;
  return null;
end $$;

create trigger usage_days_written_by_fold before insert on usage_days
  for each statement execute function usage_days_written_by_fold();
