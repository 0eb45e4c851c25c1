-- Spans a subject's events make empty (docs/contracts/metering.md, "Published
-- for invoicing"). A late event at or before the instant of the step before it
-- (a stop at its dyno's start, a deprovisioning at the plan change's instant)
-- leaves that step no interval: the one an invoice charged is deleted and
-- nothing is learned late in its place, so invoicing would never look at the
-- month again. Derivation records such a step here instead, with the
-- learned_at its interval would have had. Never cleared: a row that no longer
-- holds only makes invoicing recompute a month, which costs time, never money.
-- One row per learned_at, so a span vanishing again later is learned again.
create table vanished_spans (
  subject    text collate "C" not null,
  kind       text not null check (kind in ('dyno', 'addon')),
  app_id     text not null,
  at         timestamptz not null,
  learned_at timestamptz not null
);
create unique index vanished_spans_once on vanished_spans (subject, at, learned_at, app_id);
create index vanished_spans_by_app on vanished_spans (app_id);

-- Published beside billable_usage: an app's span that is gone, an instant.
-- Invoicing reads nothing before the usage horizon (migration 018).
create view billable_vanished as
  select v.app_id, v.kind, v.at, v.learned_at from vanished_spans v
   where v.at >= coalesce((select h.month::timestamp at time zone 'UTC' from usage_horizon h), '-infinity');
