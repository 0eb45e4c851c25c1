// The refund of a stray payment (stray-refund.ts): its idempotency key, and the words for a refund the
// gateway answered but did not make. Pure.
import type { MadeRefund } from './refund-gateway.ts';
import type { GivenBack } from './stray-given-back.ts';

/**
 * One key per state of the payment: run again before the gateway answered, the same refund; after, the
 * next state's. The count of its refunds (failed ones included) is part of the state: a refund that
 * failed later put its amount back on the charge, and the amounts alone would repeat the key of the
 * failed one, whose first answer (succeeded, then) the gateway replays for a day.
 */
export const refundKey = (paymentIntentId: string, refunds: number, back: Pick<GivenBack, 'refunded' | 'chargedBack'>) =>
  `stray-refund:${paymentIntentId}:${refunds}:${back.refunded}:${back.chargedBack}`;

/** A refund answered `failed`, `canceled`, `requires_action` (…): nothing went back, the invoice stays held. */
export const unmade = (made: MadeRefund, amount: string, what: string) =>
  `the gateway did not refund ${amount} of ${what}: refund ${made.id} is ${made.status}` +
  (made.failureReason ? ` (${made.failureReason})` : '') +
  '; nothing is back with the cardholder and the invoice stays held. Run this again to refund it anew, or refund it at the gateway';
