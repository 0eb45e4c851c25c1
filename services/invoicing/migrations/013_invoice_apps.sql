-- Issue 19: late usage finds the invoices that charged for an app through
-- one row per invoice and app, not an index entry per line (a dozen lines an
-- invoice: the index on invoice_lines (app_id) cost finalize about a third of
-- writing the lines). Kept by a statement trigger, so every writer of lines
-- is seen; immutable as the lines are.
create table invoice_apps (
  app_id     text not null,
  invoice_id text not null,
  primary key (app_id, invoice_id)
);

insert into invoice_apps (app_id, invoice_id) select distinct app_id, invoice_id from invoice_lines;
drop index lines_by_app;

create function note_invoice_apps() returns trigger
language plpgsql set search_path from current as $$
begin
  insert into invoice_apps (app_id, invoice_id)
  select distinct app_id, invoice_id from new_lines
  on conflict do nothing;
  return null;
end $$;

create trigger invoice_lines_note_apps after insert on invoice_lines
  referencing new table as new_lines
  for each statement execute function note_invoice_apps();
create trigger invoice_apps_immutable before update or delete on invoice_apps
  for each row execute function refuse_change();
