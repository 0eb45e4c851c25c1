-- Review of the email sender.

-- failed: the server refused the email for good (a 5xx to its recipient or to
-- the message, say 550 5.1.1 no such user); sending it again would be refused
-- again, so it is not retried. last_error keeps the server's reply.
alter table email_deliveries drop constraint email_deliveries_state_check,
  add constraint email_deliveries_state_check check (state in ('pending', 'sent', 'logged', 'skipped', 'failed'));

-- The pick of due emails ordered by the notices' seq, so it walked notices from
-- the first one ever, probing each one's email: with 2M sent, 3.9 s a batch,
-- and notices are never deleted. It now walks the pending emails only, by due
-- time then the order they were written (`seq`, from a sequence: the writers'
-- COPY and inserts name no such column, and a notice's seq would cost a lookup
-- a row). Emails settled before this keep no seq; pending ones take their
-- notice's, and new ones come after every notice so far.
alter table email_deliveries add column seq bigint;
create sequence email_deliveries_seq as bigint owned by email_deliveries.seq;
update email_deliveries d set seq = n.seq from notices n where n.id = d.notice_id and d.state = 'pending';
select setval('email_deliveries_seq', coalesce((select max(seq) from notices), 0) + 1, false);
alter table email_deliveries alter column seq set default nextval('email_deliveries_seq'),
  add constraint email_deliveries_pending_seq check (state <> 'pending' or seq is not null);
create index email_deliveries_pending on email_deliveries (next_attempt_at, seq) where state = 'pending';
drop index email_deliveries_due;
