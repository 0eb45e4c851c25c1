-- credits.csv of a month, once taken, is the same later (docs/contracts/invoicing.md,
-- Export postconditions). The export waits CREDITS_CLOCK_MARGIN_SECONDS after the
-- month's end by its own clock, but a grant, reversal or finalize run is dated by its
-- writer's clock (an operator's laptop, another replica): one more than 5 minutes
-- behind could still date an entry into a month finance had booked. Each month whose
-- credits.csv was taken is noted here, the first time, while the export holds the
-- ledger's locks; a writer that would date an entry in a noted month is refused
-- (billing/credits-taken.ts).
create table credits_taken (
  period text primary key check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  -- The exporter's clock when its checks passed: what a refused writer is told.
  taken_at timestamptz not null,
  -- The database's clock.
  recorded_at timestamptz not null default now()
);

-- Notes `month` as taken at `at`, once (a later export changes nothing). SECURITY
-- DEFINER: `vault export` runs as a SELECT-only role too (cli-export-readonly), and
-- the month must be noted whoever takes its file; this is the one row such a role
-- can write.
create function note_credits_taken(month text, at timestamptz)
  returns void
  language sql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
  insert into invoicing.credits_taken (period, taken_at) values ($1, $2) on conflict (period) do nothing
$$;
