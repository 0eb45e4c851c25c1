-- Issue 18: the customer is told by email. Invoicing knows no address of its
-- own (events and cards carry none), so an operator sets each account's
-- billing contact (PUT /v1/accounts/:account_id/contact).
create table account_contacts (
  account_id text collate "C" primary key,
  email      text not null check (email ~ '^[^\s@]+@[^\s@]+$' and length(email) <= 254),
  updated_at timestamptz not null default now()
);

-- One email per notice that tells the customer something, written with the
-- notice (same transaction), sent once: keyed by the notice's id.
create table email_deliveries (
  notice_id       text primary key references notices (id),
  account_id      text collate "C" not null,
  -- pending: to send at next_attempt_at; sent: the server took it; logged: no
  -- SMTP_URL (development), written to the log; skipped: no address known.
  state           text not null default 'pending' check (state in ('pending', 'sent', 'logged', 'skipped')),
  attempts        integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  last_error      text,
  sent_to         text,
  done_at         timestamptz,
  created_at      timestamptz not null default now(),
  check ((state = 'pending') = (done_at is null))
);
create index email_deliveries_due on email_deliveries (next_attempt_at) where state = 'pending';
