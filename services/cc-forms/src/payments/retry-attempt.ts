// A declined payment tried again on its page costs a card attempt, as a card
// setup does (CARD_ATTEMPTS_PER_HOUR, cards/attempts.ts): the client secret
// handed out confirms the PaymentIntent with any card, so the page's own
// retries are counted with the account's other card attempts. (Cards confirmed
// with that secret outside the page are invoicing's to count: it cancels the
// PaymentIntent past the same limit, charging/card-testing.ts.)
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { takeCardAttempt } from '../cards/attempts.ts';
import { waitWording } from '../domain/rate-limit.ts';

export interface RetryRefused {
  retryAfterSeconds: number;
  message: string;
}

/** Takes one card attempt for the account; the refusal (limit reached) with when to try again. */
export async function takeRetryAttempt(
  deps: { pool: pg.Pool; log: Logger; attemptsPerHour: number },
  accountId: string,
  paymentIntentId: string,
): Promise<RetryRefused | undefined> {
  const decision = await takeCardAttempt(deps.pool, accountId, deps.attemptsPerHour);
  if (decision.allowed) return undefined;
  deps.log.warn('payment.rate_limited', {
    account_id: accountId,
    payment_intent_id: paymentIntentId,
    retry_after_s: decision.retryAfterSeconds,
    limit: deps.attemptsPerHour,
    'count#card.rate_limited': 1,
  });
  return { retryAfterSeconds: decision.retryAfterSeconds, message: retryLimitMessage(deps.attemptsPerHour, decision.retryAfterSeconds) };
}

/** What the customer reads when a declined payment's retry is refused: the limit, why, when, and that nothing was charged. */
export function retryLimitMessage(limit: number, retryAfterSeconds: number): string {
  const max = Math.max(1, Math.floor(limit));
  return (
    `You have tried ${max} card${max === 1 ? '' : 's'} in the last hour (payments tried again and cards put on file), ` +
    `the most we allow to protect your account. Please try again ${waitWording(retryAfterSeconds)}. Nothing was charged.`
  );
}
