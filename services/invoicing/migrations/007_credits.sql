-- Issue 17: money owed is never lost. Every invoice states its subtotal (the
-- sum of its lines), the credit applied to it and its total (what is charged,
-- never negative), and what the gateway refunded of it. The credit balance of
-- an account lives in an append-only ledger and is derived from it.
alter table invoices
  add column subtotal numeric(14, 2),
  add column credit_applied numeric(14, 2) not null default 0 check (credit_applied >= 0),
  add column amount_refunded numeric(14, 2) not null default 0 check (amount_refunded >= 0);

-- Refunded: paid, then refunded whole. Carried: below the gateway's minimum, carried onto a later invoice.
alter table invoices drop constraint invoices_status_check,
  add constraint invoices_status_check check (status in ('finalized', 'paid', 'past_due', 'refunded', 'carried'));
alter table invoice_lines drop constraint invoice_lines_kind_check,
  add constraint invoice_lines_kind_check check (kind in ('dyno', 'addon', 'adjustment', 'carried'));
-- A carried line's key is the number of the invoice it carries: one carry per invoice.
create unique index lines_carrying on invoice_lines (key) where kind = 'carried';

-- The credit ledger. Lots (a grant, or what an invoice's negative subtotal
-- left) add to the balance; `applied` and `expired` entries take from one lot
-- each. Amounts are signed: a lot is positive, what draws on it negative.
create table credit_entries (
  id          text primary key,
  account_id  text collate "C" not null,
  kind        text not null check (kind in ('grant', 'invoice_remainder', 'applied', 'expired')),
  amount      numeric(14, 2) not null,
  currency    text not null,
  -- The operator's id of a grant (its idempotency key); null on other entries.
  grant_id    text unique,
  -- The lot an applied or expired entry draws on.
  lot_id      text references credit_entries,
  -- The invoice that left a remainder, or that credit was applied to.
  invoice_id  text references invoices,
  reason      text,
  -- A grant may expire; what is left of it then is an `expired` entry.
  expires_at  timestamptz,
  -- When it happened by billing's clock (a grant: when it was made; applied: the invoice's finalizing).
  at          timestamptz not null,
  created_at  timestamptz not null default now(),
  check ((kind in ('grant', 'invoice_remainder')) = (amount > 0)),
  check ((kind in ('applied', 'expired')) = (amount < 0)),
  check ((kind in ('applied', 'expired')) = (lot_id is not null)),
  check ((kind = 'grant') = (grant_id is not null)),
  check (kind = 'grant' or expires_at is null),
  check ((kind in ('invoice_remainder', 'applied')) = (invoice_id is not null))
);
create index credit_entries_by_account on credit_entries (account_id, at);
create index credit_entries_by_lot on credit_entries (lot_id) where lot_id is not null;
create index credit_entries_by_period on credit_entries (at);
-- A lot expires once; an invoice draws on a lot once.
create unique index credit_expired_once on credit_entries (lot_id) where kind = 'expired';
create unique index credit_applied_once on credit_entries (invoice_id, lot_id) where kind = 'applied';

create trigger credit_entries_append_only before update or delete on credit_entries
  for each row execute function refuse_change();

-- What is left of each lot: its amount less what was applied or expired from it.
create view credit_lots as
  select l.id, l.account_id, l.kind, l.currency, l.expires_at, l.at, l.amount,
         l.amount + coalesce((select sum(d.amount) from credit_entries d where d.lot_id = l.id), 0) as remaining
    from credit_entries l
   where l.kind in ('grant', 'invoice_remainder');

-- Invoices finalized before this migration: their subtotal is their total. A
-- negative total (the old rule finalized it as it was, and it was never
-- charged) becomes 0.00 with the rest in the account's balance, as a new
-- finalize would have done; the invoice's lines do not change.
alter table invoices disable trigger invoices_immutable;
insert into credit_entries (id, account_id, kind, amount, currency, invoice_id, at)
  select 'cr_rem_' || id, account_id, 'invoice_remainder', -total, currency, id, finalized_at
    from invoices where total < 0;
update invoices set subtotal = total;
update invoices set total = 0 where total < 0;
alter table invoices enable trigger invoices_immutable;
alter table invoices alter column subtotal set not null;

-- Rows written without a subtotal (tests and tools that insert an invoice by
-- hand, as before this migration) get their total as their subtotal.
create function subtotal_defaults_to_total() returns trigger language plpgsql as $$
begin
  new.subtotal := coalesce(new.subtotal, new.total);
  return new;
end $$;
create trigger invoices_subtotal_default before insert on invoices
  for each row execute function subtotal_defaults_to_total();

-- The new money columns are as immutable as the total; amount_refunded moves with refunds only.
drop trigger invoices_immutable on invoices;
create trigger invoices_immutable
  before update of id, account_id, period, period_start, period_end, number, currency, total, subtotal, credit_applied, finalized_at
    or delete
  on invoices for each row execute function refuse_change();
