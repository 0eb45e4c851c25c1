-- Raw events older than EVENT_RETENTION leave the database for files (issue 19;
-- docs/contracts/metering.md, "Archive"). Only a closed subject is archived (a
-- dyno that stopped, an add-on deprovisioned: no event may follow its last),
-- whole, once its every event is older than the cut. Its usage stays in
-- usage_intervals; what stays of its events is their compact keys, so a
-- re-sent one is still a duplicate and its id with other content still
-- rejected, and the subject itself, so an event that would follow its last is
-- refused rather than derived from an empty history.
create table archived_events (
  source       text not null,
  id           text not null,
  content_hash bytea not null,
  primary key (source, id)
);

create table archived_subjects (
  subject       text collate "C" primary key,
  last_sequence integer not null,
  archive_file  text not null
);

-- One row per file, the authority on it: a file is part of the archive only
-- once its row is `done`, set in the transaction that deletes its events. A
-- `writing` row left by a crash names a file whose events are all still here:
-- the next run deletes that file and writes them again.
create table archive_files (
  name        text primary key,
  state       text not null check (state in ('writing', 'done')),
  month       text not null,
  -- The directory it was written to (a rerun may be given another).
  dir         text not null,
  events      integer,
  subjects    integer,
  started_at  timestamptz not null default now(),
  finished_at timestamptz
);
