-- Finance review: finalize writes a month a chunk of accounts per transaction,
-- so an export taken while a run is going (or after one was killed) saw part
-- of the month with a control row that matched it, and looked complete. Each
-- run of a month is counted here when it starts and when every chunk has
-- committed; while `completed < started` the month's invoices are not all made,
-- and the invoices and lines exports refuse it.
create table finalize_runs (
  period       text primary key check (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  started      integer not null check (started > 0),
  completed    integer not null default 0 check (completed between 0 and started),
  started_at   timestamptz not null,
  completed_at timestamptz
);

-- Months finalized before this table: their runs ended (or were ended by the next run).
insert into finalize_runs (period, started, completed, started_at, completed_at)
  select period, 1, 1, max(finalized_at), max(finalized_at) from invoices group by period;
