-- Issue 19: finalize writes a month's lines straight into the month's partition.
-- Through invoice_lines, the two statement triggers that read the inserted rows
-- (the invoice check, invoice_apps) make PostgreSQL keep every row in a
-- transition table and insert them one at a time (no multi-insert into a
-- partitioned table with transition tables): copying a month's 1.2M lines at
-- 100,000 accounts cost the server 6.8 s with them, 4.0 s without.
-- Finalize writes invoices and their lines from the same values in one
-- transaction, and writes invoice_apps itself.
--
-- Every other writer still goes through invoice_lines: a partition refuses a
-- statement inserting into it directly unless the transaction has said it keeps
-- the lines' invoices and invoice_apps itself (invoicing.lines_kept_by =
-- 'finalize', set local by finalize's chunk), so nothing can skip the checks by
-- accident. A statement trigger: it runs once, and leaves COPY its multi-insert.
create function lines_written_through_parent() returns trigger
language plpgsql as $$
begin
  if coalesce(current_setting('invoicing.lines_kept_by', true), '') <> 'finalize' then
    raise exception 'insert into %.% refused: invoice lines are written through invoicing.invoice_lines (its invoice check and invoice_apps run there)',
      tg_table_schema, tg_table_name
      using errcode = 'insufficient_privilege';
  end if;
  return null;
end $$;

do $$
declare
  part regclass;
begin
  for part in select i.inhrelid::regclass from pg_inherits i where i.inhparent = 'invoice_lines'::regclass loop
    execute format('create trigger lines_written_through_parent before insert on %s
                      for each statement execute function lines_written_through_parent()', part);
  end loop;
end $$;

-- As 014's, and each new month's partition gets the trigger above before it is attached.
create or replace function ensure_lines_month(month text) returns void
language plpgsql set search_path from current as $$
declare
  part text;
  next_month text;
begin
  if month !~ '^\d{4}-(0[1-9]|1[0-2])$' then
    raise exception 'ensure_lines_month: month must be YYYY-MM, got %', month using errcode = 'invalid_parameter_value';
  end if;
  part := 'invoice_lines_' || replace(month, '-', '_');
  if exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
              where i.inhparent = 'invoice_lines'::regclass and c.relname = part) then
    return;
  end if;
  if to_regclass(format('%I', part)) is not null then
    raise exception 'ensure_lines_month: table % exists but is not a partition of invoice_lines (a detached month?)', part
      using errcode = 'duplicate_table';
  end if;
  next_month := to_char(to_date(month, 'YYYY-MM') + interval '1 month', 'YYYY-MM');
  execute format('create table %I (like invoice_lines including defaults including constraints)', part);
  execute format('create trigger lines_written_through_parent before insert on %I
                    for each statement execute function lines_written_through_parent()', part);
  execute format('alter table invoice_lines attach partition %I for values from (%L) to (%L)', part, month, next_month);
end $$;
