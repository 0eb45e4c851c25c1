-- Current usage from maintained aggregates (issue 19; docs/contracts/invoicing.md,
-- "Usage aggregates"). Per account, app, line and UTC day: the milliseconds of
-- the app's closed intervals inside the account's ownership on that day, as
-- the live statement would clip them (each bound truncated to the millisecond;
-- day bounds are whole milliseconds, so the days of a span add up to the span).
-- Running intervals are never stored: they grow with the clock and are read
-- live. An app whose change waits in metering.usage_changes is read live too,
-- until the fold job (src/billing/usage-days.ts) folds it in.
create table usage_days (
  account_id text collate "C" not null,
  -- The UTC day's first instant.
  day        timestamptz not null,
  app_id     text collate "C" not null,
  kind       text not null,
  key        text not null,
  product    text not null,
  ms         bigint not null check (ms > 0),
  primary key (account_id, day, app_id, kind, key, product)
);
create index usage_days_by_app on usage_days (app_id);
