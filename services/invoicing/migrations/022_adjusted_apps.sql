-- Late usage looks again at a month for an app the month charged: a row learned
-- late that starts before the month ends may have replaced one that ran through
-- it (late-usage.ts, REACHES_MONTH). invoice_apps keys an adjustment line's app
-- by the invoice that carries it, not by the month it adjusts, so a month that
-- charged an app only through an adjustment (a dyno learned late, charged to
-- November on December's invoice) was never credited when a later stop ended
-- the dyno before November. This keeps, per account, each month an adjustment
-- line adjusts and its app: looked up by app (finalize's candidates) and by
-- account and month (a draft's, and the accounts without an invoice of the
-- previous month). Adjustment lines are few (rows learned late), so two
-- indexes cost little. Immutable, as the lines are.
create table adjusted_apps (
  account_id text collate "C" not null,
  period     text not null,
  app_id     text not null,
  primary key (account_id, period, app_id)
);
create index adjusted_apps_by_app on adjusted_apps (app_id);

insert into adjusted_apps (account_id, period, app_id)
select distinct i.account_id, l.adjusts, l.app_id
  from invoice_lines l join invoices i on i.number = l.invoice_number
 where l.kind = 'adjustment' and l.adjusts is not null;

-- As 013's, and an adjustment line's month too: every writer of lines but
-- finalize goes through the parent's trigger (finalize writes both itself,
-- invoice-store.ts). The invoice exists: invoice_lines_have_invoice fires first.
create or replace function note_invoice_apps() returns trigger
language plpgsql set search_path from current as $$
begin
  insert into invoice_apps (app_id, invoice_id)
  select distinct app_id, invoice_id from new_lines
  on conflict do nothing;
  insert into adjusted_apps (account_id, period, app_id)
  select distinct i.account_id, n.adjusts, n.app_id
    from new_lines n join invoices i on i.id = n.invoice_id
   where n.kind = 'adjustment' and n.adjusts is not null
  on conflict do nothing;
  return null;
end $$;

create trigger adjusted_apps_immutable before update or delete on adjusted_apps
  for each row execute function refuse_change();
