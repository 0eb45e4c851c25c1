// How a card on file is shown: only what the gateway tells about it.
import { knownBrand } from '@vault/web/card-brands';

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

/** "Visa" from "visa"; an unknown code as "Card". */
export const brandName = (brand: string) => knownBrand(brand) ?? 'Card';

/** "Visa •••• 4242" */
export const cardSummary = (card: Pick<CardOnFile, 'brand' | 'last4'>) => `${brandName(card.brand)} •••• ${card.last4}`;

/** "12/2034" */
export const cardExpiry = (card: Pick<CardOnFile, 'expMonth' | 'expYear'>) => `${String(card.expMonth).padStart(2, '0')}/${card.expYear}`;
