-- A card detached from its customer (detach, or the customer deleted),
-- or charged once without being attached, may not be used again (Stripe's rule).
-- `consumed` marks it; cards detached before this migration are recognised by
-- having been attached once (a payment_method.attached event) and having no
-- customer now, or by a charge while unattached.
alter table payment_methods add column consumed boolean not null default false;
update payment_methods pm set consumed = true
 where pm.customer is null
   and (exists (select 1 from events e
                 where e.type = 'payment_method.attached' and e.data -> 'object' ->> 'id' = pm.id)
        or exists (select 1 from charges c where c.payment_method = pm.id));

-- Replays byte-for-byte: the answer's exact text, as first sent (jsonb reorders
-- keys). Rows stored before keep only `body` and are replayed from it.
alter table idempotency_keys add column body_text text;
alter table idempotency_keys alter column body drop not null;
alter table idempotency_keys add constraint idempotency_keys_answer check (body is not null or body_text is not null);
