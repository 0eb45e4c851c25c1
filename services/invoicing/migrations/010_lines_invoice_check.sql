-- Issue 19: finalize writes a month's lines a chunk at a time. The foreign key
-- from a line to its invoice checked each line on its own (an index probe and
-- a row lock per line: about 40% of inserting a line); invoices are never
-- deleted and their id never changes (invoices_immutable), so only inserted
-- lines need checking, and one query per statement checks them all.
alter table invoice_lines drop constraint invoice_lines_invoice_id_fkey;

-- The check probes the invoices' primary key for each distinct invoice of the
-- statement, whatever the statistics say: a table filled since its last
-- analyze looks empty to the planner, which would then compare every new line
-- with every invoice. Hence the planner settings, for this function only.
create function lines_have_their_invoice() returns trigger
language plpgsql set search_path from current
  set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off set enable_material = off as $$
declare
  orphan text;
begin
  select n.invoice_id into orphan
    from (select distinct invoice_id from new_lines) n
   where not exists (select 1 from invoices i where i.id = n.invoice_id)
   limit 1;
  if found then
    raise exception 'insert on table "invoice_lines" violates its invoice check: invoice % does not exist', orphan
      using errcode = 'foreign_key_violation';
  end if;
  return null;
end $$;

create trigger invoice_lines_have_invoice after insert on invoice_lines
  referencing new table as new_lines
  for each statement execute function lines_have_their_invoice();
