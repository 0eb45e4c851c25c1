// Card brands as customers read them: the gateway's codes ("visa", "amex")
// named the same on the card form and on invoice pages. Imports nothing, so
// pure domain code may use it (`@vault/web/card-brands`).
const BRANDS: Record<string, string> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  diners: 'Diners Club',
  jcb: 'JCB',
  unionpay: 'UnionPay',
};

/** "Visa" for "visa"; undefined for a code not named here (each page says what it shows then). */
export const knownBrand = (code: string): string | undefined => BRANDS[code];
