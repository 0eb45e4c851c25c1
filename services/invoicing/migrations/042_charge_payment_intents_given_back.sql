-- When the charge row let go of a PaymentIntent because it was a stray payment
-- given back to the cardholder in full (charging/save-payment.ts,
-- releaseRefundedStray: refunded, or a chargeback lost). Our records could not
-- tell it from a PaymentIntent canceled under an attempt, so the asked-again
-- notice (charging/asked-again.ts) said such a request was `canceled` when its
-- payment had been taken and given back. Null for every other PaymentIntent,
-- and for strays released before this migration (nothing recorded which).
alter table charge_payment_intents add column given_back_at timestamptz;
