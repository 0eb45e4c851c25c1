-- Review R2, finding 1: the schedule finalized every month from the usage
-- horizon on at each tick, and a month with nothing to do still read every
-- earlier invoice (the late-usage candidates), minutes a tick at 25 months of
-- 50,000 accounts, under the finalize lock. Each completed run now notes its
-- month's snapshot (the reading transaction's start) and how many accounts it
-- held; the schedule skips a month whose last completed run held none and
-- since whose snapshot nothing was learned that could change it
-- (billing/complete-months.ts). `vault finalize` always runs.
create table finalize_complete (
  period      text primary key check (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  snapshot_at timestamptz not null,
  held        integer not null check (held >= 0)
);
