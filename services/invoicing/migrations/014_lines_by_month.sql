-- Issue 19: invoice lines partitioned by month, keyed by their invoice's number.
-- A number is the month, then a sequence ("2026-10-000123", invoiceNumber), and
-- finalize writes a month's invoices in number order: each month's lines go to a
-- partition of their own, and their key grows at its right edge. The key was
-- (invoice_id, position), and an invoice id is a hash: every line landed at a
-- random place in one index of every line ever, about two thirds of the cost of
-- writing a line at 100,000 accounts. A month's lines are one table, which could
-- be detached whole — but not yet safely: late usage may adjust any finalized
-- month and reads what it charged from its lines (docs/contracts/invoicing.md).
-- Lines are found by their invoice's number; each still names its invoice id,
-- and the pair is checked against invoices (the trigger below).
alter table invoice_lines rename to invoice_lines_unpartitioned;
drop index lines_adjusting;
drop index lines_carrying;

create table invoice_lines (
  invoice_number text collate "C" not null,
  position       integer not null,
  invoice_id     text not null,
  app_id         text not null,
  kind           text not null check (kind in ('dyno', 'addon', 'adjustment', 'carried')),
  key            text not null,
  product        text not null,
  quantity       numeric(20, 7) not null,
  unit_price     numeric(14, 2),
  amount         numeric(14, 2),
  description    text not null,
  adjusts        text,
  -- The exact usage behind the line, for late-usage adjustments.
  ms             bigint not null,
  primary key (invoice_number, position)
) partition by range (invoice_number);
create index lines_adjusting on invoice_lines (adjusts) where adjusts is not null;
-- One carry per small invoice is kept by its status ('finalized' → 'carried', markCarried
-- refuses a second); a unique index across months cannot exist on a partitioned table.

-- The month's partition, created once (finalize calls it under its lock before
-- writing). Created apart, then attached: attaching locks the lines table only
-- against schema changes (SHARE UPDATE EXCLUSIVE), where creating it as a
-- partition would lock out every reader until commit (an export can hold a read
-- open for minutes).
create function ensure_lines_month(month text) returns void
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
  execute format('alter table invoice_lines attach partition %I for values from (%L) to (%L)', part, month, next_month);
end $$;

do $$
declare
  m text;
begin
  for m in select distinct left(i.number, 7) from invoices i
            where exists (select 1 from invoice_lines_unpartitioned l where l.invoice_id = i.id) loop
    perform ensure_lines_month(m);
  end loop;
end $$;

insert into invoice_lines (invoice_number, position, invoice_id, app_id, kind, key, product, quantity, unit_price,
                           amount, description, adjusts, ms)
select i.number, l.position, l.invoice_id, l.app_id, l.kind, l.key, l.product, l.quantity, l.unit_price,
       l.amount, l.description, l.adjusts, l.ms
  from invoice_lines_unpartitioned l join invoices i on i.id = l.invoice_id;

-- Every line moved, or nothing: a line whose invoice is gone would be lost here.
do $$
declare
  orphan text;
begin
  select l.invoice_id into orphan from invoice_lines_unpartitioned l
   where not exists (select 1 from invoices i where i.id = l.invoice_id) limit 1;
  if found then
    raise exception 'migration 014: invoice line of invoice % whose invoice does not exist; nothing moved', orphan;
  end if;
end $$;

drop table invoice_lines_unpartitioned;

-- A line's invoice exists and has the line's number (010's check, now of the pair).
create or replace function lines_have_their_invoice() returns trigger
language plpgsql set search_path from current
  set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off set enable_material = off as $$
declare
  orphan text;
begin
  select n.invoice_id || ' numbered ' || n.invoice_number into orphan
    from (select distinct invoice_id, invoice_number from new_lines) n
   where not exists (select 1 from invoices i where i.id = n.invoice_id and i.number = n.invoice_number)
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
create trigger invoice_lines_note_apps after insert on invoice_lines
  referencing new table as new_lines
  for each statement execute function note_invoice_apps();
create trigger invoice_lines_immutable before update or delete on invoice_lines
  for each row execute function refuse_change();
