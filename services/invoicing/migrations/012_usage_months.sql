-- Finalize reads a month's usage from maintained aggregates (issue 19;
-- docs/contracts/invoicing.md, "Usage aggregates"): per UTC month, account,
-- app and line, the sum of usage_days' rows of that month — the closed
-- intervals' milliseconds inside the account's ownership, which are the
-- invoice lines' milliseconds once the month is over. Kept by the fold job in
-- the transaction that keeps usage_days; the primary key is finalize's order
-- (a month, then accounts in byte order), so finalize reads it without a sort.
create table usage_months (
  month      timestamptz not null,
  account_id text collate "C" not null,
  app_id     text collate "C" not null,
  kind       text not null,
  key        text not null,
  product    text not null,
  ms         bigint not null check (ms > 0),
  primary key (month, account_id, app_id, kind, key, product) include (ms)
);
create index usage_months_by_app on usage_months (app_id);

insert into usage_months (month, account_id, app_id, kind, key, product, ms)
select date_trunc('month', day, 'UTC'), account_id, app_id, kind, key, product, sum(ms)
  from usage_days
 group by 1, 2, 3, 4, 5, 6;

-- A day's month on each day row, required: a fold of code older than this
-- migration (a process still running during a rolling deploy) writes days
-- without it and fails, so its changes stay queued for a fold that keeps the
-- months too, rather than leaving them stale.
alter table usage_days add column month timestamptz;
update usage_days set month = date_trunc('month', day, 'UTC');
alter table usage_days alter column month set not null;
