-- A grant can be corrected (docs/contracts/invoicing.md, Credits: reversals).
-- The ledger stays append-only: a mistaken grant (a wrong account, a mistyped
-- amount, a grant made twice) is taken back by a `reversal` entry, negative,
-- that draws on the grant's own lot as `applied` and `expired` do, so what is
-- left of the lot (credit_lots.remaining) falls by it and never below zero
-- (the code caps it at what is left, under finalize's lock).

-- 007's checks, unnamed there, by the names PostgreSQL gave them (007 has one version only).
alter table credit_entries
  drop constraint credit_entries_kind_check,
  add constraint credit_entries_kind_check check (kind in ('grant', 'invoice_remainder', 'applied', 'expired', 'reversal')),
  -- Was: (kind in ('applied', 'expired')) = (amount < 0).
  drop constraint credit_entries_check1,
  add constraint credit_entries_draws_negative check ((kind in ('applied', 'expired', 'reversal')) = (amount < 0)),
  -- Was: (kind in ('applied', 'expired')) = (lot_id is not null).
  drop constraint credit_entries_check2,
  add constraint credit_entries_draws_on_a_lot check ((kind in ('applied', 'expired', 'reversal')) = (lot_id is not null)),
  -- Why a grant was taken back is part of the ledger, as why it was granted is.
  add constraint credit_entries_reversal_reason check (kind <> 'reversal' or reason is not null);

-- A grant is reversed once: the same request again finds this entry (idempotent).
create unique index credit_reversed_once on credit_entries (lot_id) where kind = 'reversal';
