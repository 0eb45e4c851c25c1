// How a card on file is shown: only what the gateway tells about it.

export interface CardOnFile {
  customerId: string;
  paymentMethodId: string;
  /** The gateway's brand code: visa, mastercard, amex, … */
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  addedAt: Date;
}

const BRANDS: Record<string, string> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  diners: 'Diners Club',
  jcb: 'JCB',
  unionpay: 'UnionPay',
};

/** "Visa" from "visa"; an unknown code as "Card". */
export const brandName = (brand: string) => BRANDS[brand] ?? 'Card';

/** "Visa •••• 4242" */
export const cardSummary = (card: Pick<CardOnFile, 'brand' | 'last4'>) => `${brandName(card.brand)} •••• ${card.last4}`;

/** "12/2034" */
export const cardExpiry = (card: Pick<CardOnFile, 'expMonth' | 'expYear'>) => `${String(card.expMonth).padStart(2, '0')}/${card.expYear}`;
