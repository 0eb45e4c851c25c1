-- Two more invoice notices, beyond api.md's list (an extension: consumers
-- ignore types they do not know): `invoice.carried`, told when a small total's
-- invoice becomes `carried` (finalize of the account's next invoice), and
-- `invoice.refunded`, told when a refund makes an invoice `refunded` (whole).
-- Neither sends an email (EMAILED_TYPES in src/notices/notice.ts).
alter table notices drop constraint notices_type_check,
  add constraint notices_type_check
    check (type in ('invoice.finalized', 'invoice.paid', 'invoice.payment_failed', 'invoice.action_required',
                    'invoice.past_due', 'account.suspended', 'account.reinstated',
                    'invoice.carried', 'invoice.refunded'));
