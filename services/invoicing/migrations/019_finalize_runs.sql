-- Finance review: finalize writes a month a chunk of accounts per transaction,
-- so an export taken while a run was writing (or after one was killed) saw part
-- of the month with a control row that matched it, and looked complete. A run
-- is counted as started by its first chunk that writes invoices (in that
-- chunk's transaction) and completed once every chunk of it has committed;
-- while `completed < started` the month's invoices are not all made, and the
-- invoices and lines exports refuse it. A run with nothing to write (the
-- schedule revisits every due month) counts nothing, but completes a run
-- killed before it: it found nothing left to do.
create table finalize_runs (
  period       text primary key check (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  -- The run that last started writing (one run at a time: finalize's lock).
  run          uuid not null,
  started      integer not null check (started > 0),
  completed    integer not null default 0 check (completed between 0 and started),
  started_at   timestamptz not null,
  completed_at timestamptz
);

-- Months finalized before this table: their runs ended (or were ended by the next run).
insert into finalize_runs (period, run, started, completed, started_at, completed_at)
  select period, gen_random_uuid(), 1, 1, max(finalized_at), max(finalized_at) from invoices group by period;
