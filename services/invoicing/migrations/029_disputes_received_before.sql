-- Chargebacks an older release received (docs/contracts/invoicing.md, Decisions,
-- "Chargebacks an older release received"). Before 028 (commit 1acc2d3) invoicing
-- recorded every gateway event by id and answered a type it did not handle
-- `ignored`: an installation whose endpoint sent it charge.dispute.* (a dashboard
-- endpoint of `*` with GATEWAY_WEBHOOK_SECRET) holds its chargebacks as handled,
-- so their redelivery and the catch-up found duplicates, and invoice_disputes
-- stayed empty while the money was gone.
--
-- Forgotten: the two types that move money, recorded before 028 was applied (no
-- release before it handled them), that no dispute row names (a dispute event
-- this release recorded is named; one it found stray is after 028). Handling one
-- again is what this release does the first time: a dispute row's column is set
-- once (a second copy changes nothing), a stray stays stray.
delete from gateway_events e
 using schema_migrations m
 where m.name = '028_charge_disputes.sql'
   and e.received_at < m.applied_at
   and e.type in ('charge.dispute.funds_withdrawn', 'charge.dispute.funds_reinstated')
   and not exists (select from invoice_disputes d where e.id in (d.withdrawn_event, d.reinstated_event));

-- And the catch-up lists the gateway's 30 days again, once: it finds those, and
-- the chargebacks an older release never heard of (an endpoint it registered has
-- no dispute types) that its mark had passed. Every other event is a duplicate.
delete from gateway_event_mark;
