-- note_credits_taken (038, 040) wrote the taken_at its caller passed: a SELECT-only
-- export role, whose one write this is, could date the note whenever it liked (1999,
-- or a year to come), and that date is what every refused grant, reversal and
-- finalize run is told. Now the function dates the note by the database's clock
-- (clock_timestamp(): the instant of the note, after the export's checks under its
-- locks; the month-end guard reads the same instant) and ignores its second
-- argument. The signature stays, so the EXECUTE grants 040 left (revoked from PUBLIC,
-- granted to the export role) and the callers (billing/credits-taken.ts) stay as
-- they are. A role that may insert into credits_taken still writes its own row: it
-- could write any row anyway.
create or replace function note_credits_taken(month text, at timestamptz)
  returns void
  language plpgsql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  month_end timestamptz;
  -- The database's clock; `at` (the caller's) is not trusted.
  noted timestamptz := clock_timestamp();
begin
  if month is null or month !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' then
    raise exception using errcode = '22023', message = format('month: %s is not YYYY-MM', coalesce(month, 'null'));
  end if;
  -- Reckoned in UTC whatever the session's TimeZone: months are UTC here.
  month_end := ((month || '-01')::date + interval '1 month')::timestamp at time zone 'UTC';
  if noted < month_end then
    raise exception using
      errcode = '55000',
      message = format('month: %s has not ended by the database''s clock (%s; it ends at %s): its credits.csv cannot be noted taken',
        month, to_char(noted at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        to_char(month_end at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
  end if;
  insert into invoicing.credits_taken (period, taken_at) values (month, noted) on conflict (period) do nothing;
end
$$;

-- As 040 left it (create or replace keeps the grants; said again so the file reads whole).
revoke execute on function invoicing.note_credits_taken(text, timestamptz) from public;
