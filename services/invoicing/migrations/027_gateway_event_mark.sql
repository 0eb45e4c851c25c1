-- How far invoicing has caught up with the gateway's events (charging/event-catch-up.ts):
-- every event of the types it handles created before `created_before` (the
-- gateway's clock, Unix seconds) has been handled, whether or not its webhook
-- came. Webhooks alone miss what the gateway never sends: events made while the
-- endpoint was disabled, and deliveries it stopped retrying. One row.
create table gateway_event_mark (
  only_row       boolean primary key default true check (only_row),
  created_before bigint not null,
  updated_at     timestamptz not null default now()
);
