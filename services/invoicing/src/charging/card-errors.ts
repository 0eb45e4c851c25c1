// Stripe's card errors (type `card_error`): their messages are written for the
// cardholder. Any other code (the gateway unreachable, a key refused, a
// missing customer, an amount it will not take) is ours to handle, and its
// text never reaches the customer's pages or emails.
const CARD_ERRORS = new Set([
  'card_declined',
  'expired_card',
  'incorrect_cvc',
  'incorrect_number',
  'incorrect_zip',
  'invalid_cvc',
  'invalid_expiry_month',
  'invalid_expiry_year',
  'invalid_number',
  'processing_error',
  'card_decline_rate_limit_exceeded',
]);

/** Whether the gateway's error code is the card's own answer (its message may be shown to the cardholder). */
export function isCardError(code: unknown): boolean {
  return typeof code === 'string' && CARD_ERRORS.has(code);
}

/** Stripe's code when the cardholder fails (or abandons) a 3-D Secure check: not the card's answer, and they may try again. */
export const AUTHENTICATION_FAILED = 'payment_intent_authentication_failure';
