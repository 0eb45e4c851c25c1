-- A subject still open (an app, a running add-on) can have its old events
-- archived too (docs/contracts/metering.md, "Archive"): all but the last one
-- before the cut, which it keeps, so derivation starts again from it. The
-- row says how many events went (`last_sequence`: the count that numbers the
-- kept ones) and from when its usage is derived again (`frozen_before`, the
-- kept event's time): intervals and ownership that start before it came from
-- archived events and stay as they are. An add-on's `service` is named only
-- by its first event: kept here for the intervals derived after it.
alter table archived_subjects add column closed boolean not null default true;
alter table archived_subjects add column frozen_before timestamptz;
alter table archived_subjects add constraint archived_subjects_open_has_start check (closed or frozen_before is not null);
alter table archived_subjects add column service text;
