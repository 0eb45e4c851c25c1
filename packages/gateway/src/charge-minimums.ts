// The smallest amount the gateway charges per currency: below it Stripe refuses
// a PaymentIntent with amount_too_small. Shared by invoicing (which never sends
// a smaller one) and the sandbox (which refuses one as Stripe does). Plain data:
// no SDK, so pure domain code may import it.

/**
 * Stripe's published minimum charge amounts (its "Supported currencies" page,
 * section "Minimum and maximum charge amounts"), in each currency's minor unit
 * as the API counts it: hundredths, except JPY (zero-decimal). Stripe states
 * them per settlement currency; a charge converted into another settlement
 * currency must meet that currency's minimum after conversion.
 */
const MINIMUM_CHARGE: Readonly<Record<string, number>> = {
  USD: 50, // $0.50
  AED: 200, // 2.00 AED
  AUD: 50, // $0.50
  BGN: 100, // 1.00 BGN
  BRL: 50, // R$0.50
  CAD: 50, // $0.50
  CHF: 50, // 0.50 CHF
  CZK: 1500, // 15.00 CZK
  DKK: 250, // 2.50 DKK
  EUR: 50, // €0.50
  GBP: 30, // £0.30
  HKD: 400, // $4.00
  HUF: 17500, // 175.00 HUF
  INR: 50, // ₹0.50
  JPY: 50, // ¥50
  MXN: 1000, // $10.00
  MYR: 200, // RM 2.00
  NOK: 300, // 3.00 NOK
  NZD: 50, // $0.50
  PLN: 200, // 2.00 PLN
  RON: 200, // 2.00 RON
  SEK: 300, // 3.00 SEK
  SGD: 50, // $0.50
  THB: 1000, // ฿10.00
};

/** The currencies Stripe publishes a minimum for, upper case (USD, EUR, …). */
export const CURRENCIES_WITH_MINIMUM: readonly string[] = Object.keys(MINIMUM_CHARGE);

/** The gateway's smallest charge in `currency` (any case), in minor units; undefined when Stripe publishes none. */
export function minimumChargeOf(currency: string): number | undefined {
  return MINIMUM_CHARGE[currency.toUpperCase()];
}
