-- Each account's customer is created under a random idempotency key, stored
-- here before the request, never `customer:<account_id>`: a second
-- installation (or a restored database) sharing the Stripe account would get
-- the first one's customer back for the same account id within 24 hours, and
-- put its cards on it (invoicing's charges did the same until its migration 006).
create table customer_keys (
  account_id text collate "C" primary key,
  key        text not null unique default 'customer-' || replace(gen_random_uuid()::text, '-', '')
);
