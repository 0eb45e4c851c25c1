-- Card testing through an invoice's payment page (charging/card-testing.ts).
-- The page hands the cardholder the client secret of the invoice's
-- PaymentIntent; with the publishable key that secret confirms it again and
-- again, each time with another card (Stripe allows it), and each stolen card's
-- own answer came back to us as a payment_intent.payment_failed that nothing
-- counted. Each such decline of a card that is not the one charging uses is
-- written here once (by the event's id: a redelivery or the catch-up's copy
-- adds nothing), in the transaction that records the event.
create table foreign_card_declines (
  event_id          text primary key,
  invoice_id        text not null references invoices (id),
  payment_intent_id text not null,
  payment_method_id text not null,
  declined_at       timestamptz not null
);
create index foreign_card_declines_invoice on foreign_card_declines (invoice_id, declined_at);

-- A PaymentIntent whose page took more than CARD_ATTEMPTS_PER_HOUR other cards
-- in an hour: canceled at the gateway (its client secret dead), then let go by
-- the charge row, whose next attempt (not before retry_at) makes a new one.
-- `settled_at` is set once the gateway said canceled (or that it had been paid:
-- recorded as paid); until then every charging pass asks it again.
create table revoked_payment_intents (
  payment_intent_id text primary key,
  invoice_id        text not null references invoices (id),
  revoked_at        timestamptz not null default now(),
  retry_at          timestamptz not null,
  settled_at        timestamptz
);
create index revoked_payment_intents_unsettled on revoked_payment_intents (revoked_at) where settled_at is null;
