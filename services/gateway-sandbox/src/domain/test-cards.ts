// Stripe's test cards: what a number does in test mode. Pure: no I/O. The
// number itself is used only here and for the fingerprint, then forgotten.

export type Brand = 'visa' | 'mastercard' | 'amex' | 'discover' | 'diners' | 'jcb' | 'unionpay' | 'unknown';

/** What a card does when set up or charged, derived once from its number. */
export type CardBehaviour =
  | 'succeed'
  | 'generic_decline'
  | 'insufficient_funds'
  | 'incorrect_cvc'
  | 'expired_card'
  | 'processing_error'
  | 'lost_card'
  | 'stolen_card'
  | 'card_velocity_exceeded'
  /** 4000000000000341: attaches (setup succeeds), every charge is declined. */
  | 'charge_declined'
  /** Any other Luhn-valid number: a "live" card, declined in test mode. */
  | 'live_card'
  /** 4000002500003155: 3-D Secure when set up or paid on-session; off-session without it once set up. */
  | 'authenticate_unless_set_up'
  /** 4000002760003184, 4000000000003220: 3-D Secure on every payment; off-session always refused. */
  | 'authenticate_always'
  /** 4000000000000259: the charge succeeds, then the cardholder's bank disputes it as fraudulent. */
  | 'dispute_fraudulent';

/** A card error as Stripe reports it (`type: card_error`). */
export interface CardFailure {
  code: string;
  decline_code?: string;
  message: string;
}

export type Funding = 'credit' | 'debit' | 'prepaid';

interface TestCard {
  behaviour: CardBehaviour;
  funding: Funding;
}

/**
 * The numbers Stripe documents for test mode, by the behaviour they trigger.
 * Source: https://docs.stripe.com/testing ("Cards by brand", "Declined payments",
 * "Available balance", "Disputes", "3D Secure authentication"), checked 2026-12;
 * 4012888888881881 from the same page's earlier list (still a Stripe test Visa).
 * Not modelled: the BCcard/DinaCard number, the country cards, Radar and refund cards.
 */
export const TEST_CARDS: Readonly<Record<string, TestCard>> = {
  '4242424242424242': { behaviour: 'succeed', funding: 'credit' },
  '4012888888881881': { behaviour: 'succeed', funding: 'credit' },
  '4000056655665556': { behaviour: 'succeed', funding: 'debit' },
  '5555555555554444': { behaviour: 'succeed', funding: 'credit' },
  '2223003122003222': { behaviour: 'succeed', funding: 'credit' },
  '5200828282828210': { behaviour: 'succeed', funding: 'debit' },
  '5105105105105100': { behaviour: 'succeed', funding: 'prepaid' },
  '378282246310005': { behaviour: 'succeed', funding: 'credit' },
  '371449635398431': { behaviour: 'succeed', funding: 'credit' },
  '6011111111111117': { behaviour: 'succeed', funding: 'credit' },
  '6011000990139424': { behaviour: 'succeed', funding: 'credit' },
  '6011981111111113': { behaviour: 'succeed', funding: 'debit' },
  '3056930009020004': { behaviour: 'succeed', funding: 'credit' },
  '36227206271667': { behaviour: 'succeed', funding: 'credit' },
  '3566002020360505': { behaviour: 'succeed', funding: 'credit' },
  '6200000000000005': { behaviour: 'succeed', funding: 'credit' },
  '6200000000000047': { behaviour: 'succeed', funding: 'debit' },
  '6205500000000000004': { behaviour: 'succeed', funding: 'credit' },
  // Bypass pending balance: the charge succeeds (the sandbox keeps no balance).
  '4000000000000077': { behaviour: 'succeed', funding: 'credit' },
  '4000000000000002': { behaviour: 'generic_decline', funding: 'credit' },
  '4000000000009995': { behaviour: 'insufficient_funds', funding: 'credit' },
  '4000000000009987': { behaviour: 'lost_card', funding: 'credit' },
  '4000000000009979': { behaviour: 'stolen_card', funding: 'credit' },
  '4000000000006975': { behaviour: 'card_velocity_exceeded', funding: 'credit' },
  '4000000000000127': { behaviour: 'incorrect_cvc', funding: 'credit' },
  '4000000000000069': { behaviour: 'expired_card', funding: 'credit' },
  '4000000000000119': { behaviour: 'processing_error', funding: 'credit' },
  '4000000000000341': { behaviour: 'charge_declined', funding: 'credit' },
  '4000002500003155': { behaviour: 'authenticate_unless_set_up', funding: 'credit' },
  '4000002760003184': { behaviour: 'authenticate_always', funding: 'credit' },
  '4000000000003220': { behaviour: 'authenticate_always', funding: 'credit' },
  '4000000000000259': { behaviour: 'dispute_fraudulent', funding: 'credit' },
};

/** Behaviours that succeed once the cardholder is authenticated (or needs not be). */
const SUCCEEDS: ReadonlySet<CardBehaviour> = new Set([
  'succeed',
  'authenticate_unless_set_up',
  'authenticate_always',
  'dispute_fraudulent',
]);

/** The dispute a behaviour's succeeded charge gets at once, if any (Stripe's reason). */
export function disputeReason(behaviour: CardBehaviour): 'fraudulent' | undefined {
  return behaviour === 'dispute_fraudulent' ? 'fraudulent' : undefined;
}

const DECLINED: CardFailure = { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' };

const FAILURES: Readonly<
  Record<
    Exclude<CardBehaviour, 'succeed' | 'charge_declined' | 'authenticate_unless_set_up' | 'authenticate_always' | 'dispute_fraudulent'>,
    CardFailure
  >
> = {
  generic_decline: DECLINED,
  insufficient_funds: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  // Stripe tells the customer no more than "declined" for a lost or stolen card.
  lost_card: { code: 'card_declined', decline_code: 'lost_card', message: 'Your card was declined.' },
  stolen_card: { code: 'card_declined', decline_code: 'stolen_card', message: 'Your card was declined.' },
  card_velocity_exceeded: {
    code: 'card_declined',
    decline_code: 'card_velocity_exceeded',
    message: 'Your card was declined for making repeated attempts too frequently or exceeding its amount limit.',
  },
  incorrect_cvc: { code: 'incorrect_cvc', decline_code: 'incorrect_cvc', message: "Your card's security code is incorrect." },
  expired_card: { code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' },
  processing_error: {
    code: 'processing_error',
    decline_code: 'processing_error',
    message: 'An error occurred while processing your card. Try again in a little bit.',
  },
  live_card: {
    code: 'card_declined',
    decline_code: 'test_mode_live_card',
    message:
      'Your card was declined. Your request was in test mode, but used a non test (live) card. For a list of valid test cards, visit: https://stripe.com/docs/testing.',
  },
};

/** Why a card's details are refused when the PaymentMethod is created (402 card_error). */
export const DETAIL_ERRORS = {
  incorrect_number: { code: 'incorrect_number', message: 'Your card number is incorrect.', param: 'card[number]' },
  invalid_expiry_month: { code: 'invalid_expiry_month', message: "Your card's expiration month is invalid.", param: 'card[exp_month]' },
  invalid_expiry_year: { code: 'invalid_expiry_year', message: "Your card's expiration year is invalid.", param: 'card[exp_year]' },
  invalid_cvc: { code: 'invalid_cvc', message: "Your card's security code is invalid.", param: 'card[cvc]' },
} as const;
export type DetailError = keyof typeof DETAIL_ERRORS;

/** The digits of a card number as typed (spaces and dashes allowed), or undefined. */
export function cardDigits(raw: string): string | undefined {
  const digits = raw.replace(/[\s-]/g, '');
  return /^\d{12,19}$/.test(digits) ? digits : undefined;
}

export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function brandOf(digits: string): Brand {
  const n2 = Number(digits.slice(0, 2));
  const n3 = Number(digits.slice(0, 3));
  const n4 = Number(digits.slice(0, 4));
  if (digits.startsWith('4')) return 'visa';
  if ((n2 >= 51 && n2 <= 55) || (n4 >= 2221 && n4 <= 2720)) return 'mastercard';
  if (n2 === 34 || n2 === 37) return 'amex';
  if (n4 === 6011 || n2 === 65 || (n3 >= 644 && n3 <= 649)) return 'discover';
  if (n2 === 36 || n2 === 38 || n2 === 39 || (n3 >= 300 && n3 <= 305)) return 'diners';
  if (n4 >= 3528 && n4 <= 3589) return 'jcb';
  if (n2 === 62) return 'unionpay';
  return 'unknown';
}

export interface CardFacts {
  brand: Brand;
  last4: string;
  funding: Funding;
  behaviour: CardBehaviour;
}

/** Everything the sandbox keeps of a number: never the number itself. */
export function cardFacts(digits: string): CardFacts {
  const known = TEST_CARDS[digits];
  return {
    brand: brandOf(digits),
    last4: digits.slice(-4),
    funding: known?.funding ?? 'credit',
    behaviour: known?.behaviour ?? 'live_card',
  };
}

/** A two-digit year means this century (Stripe accepts `34` for 2034). */
export function fullYear(year: number): number {
  return year < 100 ? 2000 + year : year;
}

/**
 * The first problem with a card's details, checked when its PaymentMethod is
 * created: number (Luhn), expiry (not past, at most 50 years ahead), CVC.
 */
export function detailError(
  card: { number: string; exp_month: number; exp_year: number; cvc?: string | undefined },
  today: { year: number; month: number },
): DetailError | undefined {
  const digits = cardDigits(card.number);
  if (!digits || !luhnValid(digits)) return 'incorrect_number';
  if (card.exp_month < 1 || card.exp_month > 12) return 'invalid_expiry_month';
  const year = fullYear(card.exp_year);
  if (year < today.year || year > today.year + 50) return 'invalid_expiry_year';
  if (year === today.year && card.exp_month < today.month) return 'invalid_expiry_month';
  if (card.cvc !== undefined && !/^\d{3,4}$/.test(card.cvc)) return 'invalid_cvc';
  return undefined;
}

/** The card error a behaviour gives when set up (SetupIntent confirm, attach), if any. */
export function setupFailure(behaviour: CardBehaviour): CardFailure | undefined {
  if (SUCCEEDS.has(behaviour) || behaviour === 'charge_declined') return undefined;
  return FAILURES[behaviour as keyof typeof FAILURES];
}

/** The card error a behaviour gives when charged, if any. */
export function chargeFailure(behaviour: CardBehaviour): CardFailure | undefined {
  if (SUCCEEDS.has(behaviour)) return undefined;
  if (behaviour === 'charge_declined') return DECLINED;
  return FAILURES[behaviour as keyof typeof FAILURES];
}

/** A charge's `outcome`, as Stripe fills it for an approval or a decline. */
export function chargeOutcome(failure: CardFailure | undefined): Record<string, unknown> {
  if (!failure) {
    return {
      network_status: 'approved_by_network',
      reason: null,
      risk_level: 'normal',
      risk_score: 20,
      seller_message: 'Payment complete.',
      type: 'authorized',
    };
  }
  return {
    network_status: 'declined_by_network',
    reason: failure.decline_code ?? failure.code,
    risk_level: 'normal',
    risk_score: 20,
    seller_message: 'The bank did not return any further details with this decline.',
    type: 'issuer_declined',
  };
}
