-- Issue 18: the payment lifecycle told to the platform (notices) and to the
-- customer (the payment state in words), strong customer authentication, and
-- the suspension of accounts with an invoice past due too long.

-- action_required: an off-session charge needs the cardholder (3-D Secure); it
-- waits for the customer to authenticate, it is not a decline.
alter table invoices drop constraint invoices_status_check,
  add constraint invoices_status_check
    check (status in ('finalized', 'paid', 'past_due', 'refunded', 'carried', 'action_required'));
alter table charges drop constraint charges_state_check,
  add constraint charges_state_check check (state in ('scheduled', 'past_due', 'paid', 'action_required'));

-- What the pages say of a payment: when it was paid and with which card; since
-- when the invoice has been past due (suspension counts from it); since when it
-- has waited for the cardholder.
alter table charges
  add column paid_at timestamptz,
  add column paid_card_brand text,
  add column paid_card_last4 text,
  add column past_due_at timestamptz,
  add column action_required_at timestamptz;
-- Rows past due before this migration: their last write is the best date known.
update charges set past_due_at = updated_at where state = 'past_due';
update charges set paid_at = updated_at where state = 'paid';
create index charges_past_due on charges (past_due_at) where state = 'past_due';

-- The outbox of notices (CloudEvents, api.md "Notices"), each written in the
-- transaction of the change it tells. `seq` orders them as written; `position`
-- is given after commit by one sequencer at a time (sequenceNotices), so the
-- cursor of GET /v1/notices never skips a notice committed late.
create table notices (
  seq          bigint generated always as identity primary key,
  id           text not null unique,
  type         text not null check (type in ('invoice.finalized', 'invoice.paid', 'invoice.payment_failed',
                 'invoice.action_required', 'invoice.past_due', 'account.suspended', 'account.reinstated')),
  account_id   text collate "C" not null,
  -- The CloudEvent as published, byte for byte the same at every replay.
  event        json not null,
  created_at   timestamptz not null default now(),
  position     bigint unique,
  published_at timestamptz
);
create index notices_unsequenced on notices (seq) where position is null;
create index notices_unpublished on notices (position) where published_at is null;
create index notices_by_account on notices (account_id, seq);

create trigger notices_keep before delete on notices for each row execute function refuse_change();

-- An account's standing: suspended while an invoice of it has been past due
-- longer than SUSPEND_PAST_DUE_AFTER; reinstated once nothing it owes is past due.
create table account_standing (
  account_id    text collate "C" primary key,
  suspended_at  timestamptz,
  reinstated_at timestamptz,
  -- How many times it was suspended: the suspension's number in its notices' ids.
  suspensions   integer not null default 0 check (suspensions >= 0),
  check (suspended_at is null or suspensions > 0)
);
