// Stripe's test PaymentMethods and tokens: names that stand for a test card
// (`pm_card_visa`, `tok_chargeDeclined`…), which is how server code uses test
// cards without sending a number. Each use makes a new card from the number. Pure.

// Source: Stripe's testing page, https://docs.stripe.com/testing ("Cards by brand",
// "Declined payments", "Available balance", "Disputes", "3D Secure
// authentication"), checked 2026-12: it lists each name added there as a
// PaymentMethod (pm_card_*), a token (tok_*) or both, in the row of the number
// whose behaviour it has. A name it lists as a token only is a token only here.
// The sandbox's older names (chargeDeclined, threeDSecure2Required…) stay as they were.

/** Names taken as `pm_card_<name>` and `tok_<name>` (the page's with both prefixes, and the older ones), and their test card. */
const BOTH: Readonly<Record<string, string>> = {
  visa: '4242424242424242',
  visa_debit: '4000056655665556',
  mastercard: '5555555555554444',
  mastercard_debit: '5200828282828210',
  mastercard_prepaid: '5105105105105100',
  amex: '378282246310005',
  discover: '6011111111111117',
  diners: '3056930009020004',
  jcb: '3566002020360505',
  unionpay: '6200000000000005',
  chargeDeclined: '4000000000000002',
  chargeDeclinedInsufficientFunds: '4000000000009995',
  chargeDeclinedIncorrectCvc: '4000000000000127',
  chargeDeclinedExpiredCard: '4000000000000069',
  chargeDeclinedProcessingError: '4000000000000119',
  chargeCustomerFail: '4000000000000341',
  bypassPending: '4000000000000077',
  authenticationRequiredOnSetup: '4000002500003155',
  authenticationRequired: '4000002760003184',
  threeDSecure2Required: '4000000000003220',
  createDispute: '4000000000000259',
  visa_chargeDeclined: '4000000000000002',
  visa_chargeDeclinedInsufficientFunds: '4000000000009995',
  visa_chargeDeclinedLostCard: '4000000000009987',
  visa_chargeDeclinedStolenCard: '4000000000009979',
  visa_chargeDeclinedVelocityLimitExceeded: '4000000000006975',
};

/** Names listed as tokens only (`tok_<name>`). */
const TOKEN_ONLY: Readonly<Record<string, string>> = {
  visa_chargeDeclinedExpiredCard: '4000000000000069',
  visa_chargeDeclinedIncorrectCvc: '4000000000000127',
  visa_chargeDeclinedProcessingError: '4000000000000119',
  visa_chargeCustomerFail: '4000000000000341',
};

const NAMED = { pm_card_: BOTH, tok_: { ...BOTH, ...TOKEN_ONLY } } as const;

const named = (prefix: keyof typeof NAMED, id: string) => {
  const name = id.startsWith(prefix) ? id.slice(prefix.length) : '';
  const table: Readonly<Record<string, string>> = NAMED[prefix];
  return Object.hasOwn(table, name) ? table[name] : undefined;
};

/** The test card number of `pm_card_<name>` (a PaymentMethod id) or undefined. */
export function testPaymentMethodNumber(id: string): string | undefined {
  return named('pm_card_', id);
}

/** The test card number of `tok_<name>` (`card[token]` when creating a PaymentMethod) or undefined. */
export function testTokenNumber(token: string): string | undefined {
  return named('tok_', token);
}

/** Every test PaymentMethod name, for tests and the contract. */
export const TEST_PAYMENT_METHODS: readonly string[] = Object.keys(BOTH).map((name) => `pm_card_${name}`);

/** Every test token name, for tests and the contract. */
export const TEST_TOKENS: readonly string[] = Object.keys(NAMED.tok_).map((name) => `tok_${name}`);
