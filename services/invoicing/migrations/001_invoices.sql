-- Finalized invoices; drafts are never stored, they are computed from usage.
create table invoices (
  id           text primary key,
  account_id   text collate "C" not null,
  period       text not null,
  period_start timestamptz not null,
  period_end   timestamptz not null,
  number       text not null unique,
  status       text not null default 'finalized' check (status in ('finalized', 'paid', 'past_due')),
  currency     text not null,
  total        numeric(14, 2) not null,
  finalized_at timestamptz not null default now(),
  unique (account_id, period)
);
create index invoices_by_period on invoices (period, number);

create table invoice_lines (
  invoice_id  text not null references invoices,
  position    integer not null,
  app_id      text not null,
  kind        text not null check (kind in ('dyno', 'addon', 'adjustment')),
  key         text not null,
  product     text not null,
  quantity    numeric(20, 7) not null,
  unit_price  numeric(14, 2),
  amount      numeric(14, 2),
  description text not null,
  adjusts     text,
  -- The exact usage behind the line, for late-usage adjustments.
  ms          bigint not null,
  primary key (invoice_id, position)
);
create index lines_adjusting on invoice_lines (adjusts) where adjusts is not null;
-- Late usage of an app finds the invoices that charged for it.
create index lines_by_app on invoice_lines (app_id);

-- A finalized invoice never changes: only its payment status may move.
create function refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'a finalized invoice never changes (% on %)', tg_op, tg_table_name
    using errcode = 'restrict_violation';
end $$;
create trigger invoice_lines_immutable before update or delete on invoice_lines
  for each row execute function refuse_change();
create trigger invoices_immutable
  before update of id, account_id, period, period_start, period_end, number, currency, total, finalized_at or delete
  on invoices for each row execute function refuse_change();

-- Bearer tokens for customers (one account) and finance; only their hash is kept.
create table tokens (
  hash       text primary key,
  kind       text not null check (kind in ('account', 'finance')),
  account_id text,
  created_at timestamptz not null default now(),
  check ((kind = 'account') = (account_id is not null))
);

-- Web sessions opened by a sign-in link; the cookie holds the id, we keep its hash.
create table sessions (
  hash       text primary key,
  account_id text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
