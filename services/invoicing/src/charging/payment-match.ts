// Whether a succeeded payment the gateway reports pays an invoice: pure. A
// webhook is signed by the gateway, but anyone holding the account's keys (or
// sharing its Stripe account) can make a PaymentIntent whose metadata names
// any invoice; only the invoice's own PaymentIntent, for exactly its amount,
// pays it.
import { minorUnits } from './amount.ts';

/** A succeeded PaymentIntent as a webhook carries it. */
export interface ReportedPayment {
  id: string;
  /** Minor units actually received (Stripe's `amount_received`), else `amount`. */
  amount: number;
  /** Lower case, as Stripe writes it. */
  currency: string;
}

/** The invoice as invoicing recorded it. */
export interface RecordedInvoice {
  total: string;
  currency: string;
  /** The PaymentIntent charging created for it; null before it was stored. */
  paymentIntentId: string | null;
}

export type PaymentVerdict =
  | { pays: true }
  | {
      pays: false;
      reason: 'unknown_invoice' | 'no_payment_intent_recorded' | 'not_its_payment_intent' | 'currency_mismatch' | 'amount_mismatch';
    };

/**
 * A payment pays the invoice only when it is the PaymentIntent charging
 * stored for it, in its currency, for exactly its total. Before charging has
 * stored a PaymentIntent nothing pays it by webhook: charging's next pass
 * replays the creation (same key, same PaymentIntent), stores it, and learns
 * the success from the gateway's answer to its confirm.
 */
export function paysInvoice(payment: ReportedPayment, invoice: RecordedInvoice | undefined): PaymentVerdict {
  if (!invoice) return { pays: false, reason: 'unknown_invoice' };
  if (invoice.paymentIntentId === null) return { pays: false, reason: 'no_payment_intent_recorded' };
  if (payment.id !== invoice.paymentIntentId) return { pays: false, reason: 'not_its_payment_intent' };
  if (payment.currency.toUpperCase() !== invoice.currency.toUpperCase()) return { pays: false, reason: 'currency_mismatch' };
  if (payment.amount !== minorUnits(invoice.total, invoice.currency)) return { pays: false, reason: 'amount_mismatch' };
  return { pays: true };
}
