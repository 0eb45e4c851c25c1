-- Finance review: a due month no finalize run had completed yet (the schedule
-- finalizes it within a tick of its due time, or later while the app is down)
-- exported as a header and a control row of zeros, a month that looked
-- complete with no invoices. finalize_runs (migration 019) records only runs
-- that write, so "not run yet" and "run, nothing to make" looked alike. Every
-- run that completes now notes its month here, whether it wrote or not; the
-- invoices and lines exports refuse a due month, from the first month with
-- billable usage on, that has neither such a note nor an invoice.
create table finalize_visits (
  period text primary key check (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  at     timestamptz not null
);

-- Months whose runs completed before this table.
insert into finalize_visits (period, at)
select period, coalesce(completed_at, started_at) from finalize_runs where completed = started;
