-- Issue 19: finalize writes a month's invoice.finalized notices and their emails
-- a chunk at a time. The foreign key from an email to its notice checked each
-- email on its own (a query and a row lock per row, most of the cost of writing
-- one). Notices are never deleted (notices_keep) and, from here on, their id
-- never changes, so only inserted emails need checking: one query a statement,
-- as migration 010 did for invoice lines.
alter table email_deliveries drop constraint email_deliveries_notice_id_fkey;

create trigger notices_id_fixed before update of id on notices
  for each row execute function refuse_change();
create trigger email_deliveries_notice_fixed before update of notice_id on email_deliveries
  for each row execute function refuse_change();

-- The check probes the notices' id index for each distinct notice of the
-- statement, whatever the statistics say (see migration 010).
create function emails_have_their_notice() returns trigger
language plpgsql set search_path from current
  set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off set enable_material = off as $$
declare
  orphan text;
begin
  select n.notice_id into orphan
    from new_emails n
   where not exists (select 1 from notices x where x.id = n.notice_id)
   limit 1;
  if found then
    raise exception 'insert on table "email_deliveries" violates its notice check: notice % does not exist', orphan
      using errcode = 'foreign_key_violation';
  end if;
  return null;
end $$;

create trigger email_deliveries_have_notice after insert on email_deliveries
  referencing new table as new_emails
  for each statement execute function emails_have_their_notice();
