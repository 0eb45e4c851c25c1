// Stripe's test PaymentMethods and tokens: names that stand for a test card
// (`pm_card_visa`, `tok_chargeDeclined`…), which is how server code uses test
// cards without sending a number. Each use makes a new card from the number. Pure.

/** The name after `pm_card_` / `tok_`, and the test card it stands for. */
const NAMED: Readonly<Record<string, string>> = {
  visa: '4242424242424242',
  visa_debit: '4000056655665556',
  mastercard: '5555555555554444',
  mastercard_debit: '5200828282828210',
  amex: '378282246310005',
  discover: '6011111111111117',
  chargeDeclined: '4000000000000002',
  chargeDeclinedInsufficientFunds: '4000000000009995',
  chargeDeclinedIncorrectCvc: '4000000000000127',
  chargeDeclinedExpiredCard: '4000000000000069',
  chargeDeclinedProcessingError: '4000000000000119',
  chargeCustomerFail: '4000000000000341',
  authenticationRequiredOnSetup: '4000002500003155',
  authenticationRequired: '4000002760003184',
  threeDSecure2Required: '4000000000003220',
  createDispute: '4000000000000259',
};

const named = (prefix: string, id: string) => {
  const name = id.startsWith(prefix) ? id.slice(prefix.length) : '';
  return Object.hasOwn(NAMED, name) ? NAMED[name] : undefined;
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
export const TEST_PAYMENT_METHODS: readonly string[] = Object.keys(NAMED).map((name) => `pm_card_${name}`);
