-- note_credits_taken (038) is SECURITY DEFINER and PostgreSQL grants EXECUTE
-- on a new function to PUBLIC: any role that could reach the schema (cc-forms'
-- role, a SELECT-only finance role) could note the month under way, and so
-- refuse every finalize run, grant and reversal dated in it for the rest of
-- the month. Now only the roles granted EXECUTE may call it (the owner, and a
-- SELECT-only export role the operator grants it to: docs/contracts/invoicing.md,
-- Export preconditions), and it refuses a month the database's clock has not
-- seen end: a note then would refuse writers whose clocks are right. The
-- export waits CREDITS_CLOCK_MARGIN_SECONDS past the end by its own clock, so
-- an exporter up to that much ahead of the database still notes. A role that
-- may insert into credits_taken does so directly (billing/credits-taken.ts):
-- the guard holds back only what this door gives a role that cannot.
create or replace function note_credits_taken(month text, at timestamptz)
  returns void
  language plpgsql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  month_end timestamptz;
begin
  if month is null or month !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' then
    raise exception using errcode = '22023', message = format('month: %s is not YYYY-MM', coalesce(month, 'null'));
  end if;
  -- Reckoned in UTC whatever the session's TimeZone: months are UTC here.
  month_end := ((month || '-01')::date + interval '1 month')::timestamp at time zone 'UTC';
  if now() < month_end then
    raise exception using
      errcode = '55000',
      message = format('month: %s has not ended by the database''s clock (%s; it ends at %s): its credits.csv cannot be noted taken',
        month, to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        to_char(month_end at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
  end if;
  insert into invoicing.credits_taken (period, taken_at) values (month, at) on conflict (period) do nothing;
end
$$;

revoke execute on function invoicing.note_credits_taken(text, timestamptz) from public;
