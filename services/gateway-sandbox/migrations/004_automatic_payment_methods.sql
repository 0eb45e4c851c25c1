-- A PaymentIntent created with no payment method types gets Stripe's default
-- (API 2023-08-16 on): automatic payment methods, redirects allowed. Such an
-- intent cannot be confirmed server-side without a return_url; rows from
-- before this migration had card only, and keep null.
alter table payment_intents add column automatic_payment_methods jsonb;
