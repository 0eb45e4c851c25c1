-- Metering's usage model. Events are kept once per deduplication key; usage is
-- derived from them per subject, so arrival order never changes the result.
create extension if not exists btree_gist with schema public;

-- Every valid event, once. `received_at` is when we learned it: invoicing
-- needs it for late-usage adjustments; `time` is when it happened.
create table events (
  source       text not null,
  id           text not null,
  type         text not null,
  subject      text not null,
  sequence     integer not null check (sequence >= 1),
  time         timestamptz not null,
  data         jsonb not null,
  -- Hash of the parsed event: a re-send with other content is caught by it.
  content_hash text not null,
  received_at  timestamptz not null default now(),
  primary key (source, id)
);
create index events_by_subject on events (subject, sequence);

-- What was refused, kept whole as received, with the reasons.
create table rejected_events (
  id          bigserial primary key,
  received_at timestamptz not null default now(),
  origin      text not null check (origin in ('bus', 'http')),
  raw         text not null,
  reasons     jsonb not null,
  source      text,
  event_id    text
);

-- Dyno and add-on usage. One subject never has two overlapping intervals: the
-- database refuses it. An upper bound of null (infinity) means still running.
create table usage_intervals (
  subject    text not null,
  kind       text not null check (kind in ('dyno', 'addon')),
  app_id     text not null,
  -- Dyno: the process name (web.1); add-on: its id.
  key        text not null,
  -- The price book's product: dyno:<size> or addon:<service>:<plan>.
  product    text not null,
  during     tstzrange not null check (not isempty(during)),
  -- The latest `received_at` of the events that shaped this interval.
  learned_at timestamptz not null,
  exclude using gist (subject with =, during with &&)
);
create index usage_by_app on usage_intervals (app_id);

-- Who pays for an app, over time. Never two owners at one instant.
create table app_ownership (
  app_id     text not null,
  account_id text not null,
  during     tstzrange not null check (not isempty(during)),
  learned_at timestamptz not null,
  exclude using gist (app_id with =, during with &&)
);

-- Subjects whose sequence has a hole: unreliable from `unreliable_from` on.
create table subject_gaps (
  subject          text primary key,
  app_id           text,
  missing_sequence integer not null,
  unreliable_from  timestamptz,
  detected_at      timestamptz not null default now()
);

-- Counters since the database was created (GET /v1/stats).
create table counters (
  name  text primary key,
  value bigint not null default 0
);
insert into counters (name) values ('events_applied'), ('events_duplicate'), ('events_rejected');
