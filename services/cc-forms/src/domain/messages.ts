// What the card form tells the customer when a card is refused: one helpful
// sentence per gateway code (Stripe's codes). The page renders this table and
// its script picks the message: decline_code first, then code, then type.

/** The database could not answer now (runtime's busy answer, in the card script's shape: web/context.ts). */
export const DATABASE_BUSY_MESSAGE = 'The service is busy right now. Nothing was saved: please try again in a few seconds.';
/** The database connection was lost while answering: it may have been saved (a commit cut off). */
export const DATABASE_OUTCOME_UNKNOWN_MESSAGE =
  'The service lost its connection while answering, so we cannot tell whether this went through. Reload the page to check before trying again.';

export const CARD_MESSAGES: Readonly<Record<string, string>> = {
  card_declined: 'Your card was declined. Please use a different card, or ask your bank why it was declined.',
  generic_decline: 'Your card was declined. Please use a different card, or ask your bank why it was declined.',
  insufficient_funds: 'Your card has insufficient funds. Please use a different card.',
  incorrect_cvc:
    "Your card's security code (CVC) is incorrect. Check the 3 digits on the back of the card (4 on the front for American Express) and try again.",
  invalid_cvc: "Your card's security code (CVC) is incorrect. Check it and try again.",
  expired_card: 'Your card has expired. Check the expiry date, or use a different card.',
  processing_error: 'An error occurred while processing your card. Nothing was saved: please try again in a moment.',
  incorrect_number: 'Your card number is incorrect. Check it and try again.',
  invalid_number: 'Your card number is incorrect. Check it and try again.',
  incomplete_number: 'Please enter your full card number.',
  incomplete_expiry: "Please enter your card's expiry date as MM / YY.",
  invalid_expiry_month: "Your card's expiry month is invalid. Check the expiry date and try again.",
  invalid_expiry_year: "Your card's expiry year is invalid. Check the expiry date and try again.",
  invalid_expiry_year_past: "Your card's expiry date is in the past. Check it, or use a different card.",
  incomplete_cvc: "Please enter your card's security code (CVC).",
  test_mode_live_card: 'Your card was declined: this is a test environment, where only test cards work.',
  api_connection_error: 'We could not reach the payment gateway. Check your connection and try again.',
  gateway_unavailable: 'The card form could not load the payment gateway. Please reload the page, or try again later.',
  // The server's busy answer (its own message comes first: this is the table's word for the code).
  database_busy: DATABASE_BUSY_MESSAGE,
  // Sign-in links work once: "open your sign-in link again" sent the customer in a loop.
  session_ended:
    "Your session ended before your card was saved, so it was not saved. Open the card form again from your invoices, or ask your account's administrator for a new sign-in link.",
};

/** The pay page's session ended before the payment started (payments/routes.ts). */
export const PAYMENT_SESSION_ENDED =
  "Your session ended before the payment started, so nothing was charged. Open this payment again from your invoice, or ask your account's administrator for a new sign-in link.";

export const FALLBACK_MESSAGE = 'Your card could not be saved. Please try again, or use a different card.';

export interface CardError {
  type?: string | undefined;
  code?: string | undefined;
  decline_code?: string | undefined;
  message?: string | undefined;
}

/** The message for a gateway or validation error (the page script does the same lookup). */
export function cardErrorMessage(error: CardError): string {
  for (const key of [error.decline_code, error.code, error.type]) {
    if (key !== undefined && Object.hasOwn(CARD_MESSAGES, key)) return CARD_MESSAGES[key]!;
  }
  return FALLBACK_MESSAGE;
}
