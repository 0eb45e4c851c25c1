// The gateway's errors (Stripe's, through the official SDK's classes) as the
// charger's answers: what counts as a decline, a refusal, a success whose
// answer was lost, a PaymentIntent to replace, or no answer at all.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Stripe } from '@vault/gateway';
import { answerOfError } from '../src/charging/gateway-calls.ts';

describe('gateway errors as answers', () => {
  const raw = (statusCode: number, fields: Record<string, unknown>) => ({ statusCode, message: 'm', ...fields });
  const cases: [string, Error, Partial<Record<'kind' | 'code' | 'declineCode', string>>][] = [
    [
      '402 card_error is a decline',
      new Stripe.errors.StripeCardError(raw(402, { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' })),
      { kind: 'declined', code: 'card_declined', declineCode: 'insufficient_funds' },
    ],
    [
      '400 unexpected state with the PaymentIntent succeeded is a success',
      new Stripe.errors.StripeInvalidRequestError(
        raw(400, {
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          payment_intent: { id: 'pi_1', status: 'succeeded' },
        }),
      ),
      { kind: 'succeeded' },
    ],
    [
      '400 unexpected state with the PaymentIntent processing is no answer: the payment may still succeed, and is never counted as a decline',
      new Stripe.errors.StripeInvalidRequestError(
        raw(400, {
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          payment_intent: { id: 'pi_1', status: 'processing' },
        }),
      ),
      { kind: 'unanswered', code: 'payment_intent_processing' },
    ],
    [
      '400 unexpected state with the PaymentIntent canceled is a refusal of its own: the charger replaces the PaymentIntent',
      new Stripe.errors.StripeInvalidRequestError(
        raw(400, {
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          payment_intent: { id: 'pi_1', status: 'canceled' },
        }),
      ),
      { kind: 'refused', code: 'payment_intent_canceled' },
    ],
    [
      '404 resource_missing is a refusal',
      new Stripe.errors.StripeInvalidRequestError(raw(404, { type: 'invalid_request_error', code: 'resource_missing' })),
      { kind: 'refused', code: 'resource_missing' },
    ],
    [
      '400 idempotency_error is a refusal',
      new Stripe.errors.StripeIdempotencyError(raw(400, { type: 'idempotency_error' })),
      { kind: 'refused', code: 'idempotency_error' },
    ],
    [
      '409 key in use is no answer',
      new Stripe.errors.StripeAPIError(raw(409, { type: 'invalid_request_error', code: 'idempotency_key_in_use' })),
      { kind: 'unanswered', code: 'idempotency_key_in_use (HTTP 409)' },
    ],
    [
      '500 is no answer',
      new Stripe.errors.StripeAPIError(raw(500, { type: 'api_error' })),
      { kind: 'unanswered', code: 'api_error (HTTP 500)' },
    ],
    [
      '429 is no answer',
      new Stripe.errors.StripeRateLimitError(raw(429, { type: 'invalid_request_error', code: 'rate_limit' })),
      { kind: 'unanswered', code: 'rate_limit (HTTP 429)' },
    ],
    [
      '401 (a wrong key) is no answer',
      new Stripe.errors.StripeAuthenticationError(raw(401, { type: 'invalid_request_error' })),
      { kind: 'unanswered', code: 'invalid_request_error (HTTP 401)' },
    ],
    [
      'no connection is no answer',
      new Stripe.errors.StripeConnectionError({ message: 'connect ECONNREFUSED' }),
      { kind: 'unanswered', code: 'StripeConnectionError' },
    ],
  ];
  for (const [name, err, want] of cases) {
    test(name, () => {
      const answer: Record<string, unknown> = answerOfError(err);
      assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, answer[k]])), want);
    });
  }
  test('400 unexpected state with the PaymentIntent succeeded carries what it received (amount_received, currency), for the charger to check against the invoice, and that it succeeded earlier', () => {
    // Its amount changed at the gateway before the confirm (anyone with the keys may): 0.50 USD received, not the 52.58 asked for.
    const err = new Stripe.errors.StripeInvalidRequestError(
      raw(400, {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        payment_intent: { id: 'pi_7', status: 'succeeded', amount: 50, amount_received: 50, currency: 'usd' },
      }),
    );
    // `earlier`: it succeeded before this confirm, so a refund may have come since (read back by the charger).
    assert.deepEqual(answerOfError(err), { kind: 'succeeded', payment: { id: 'pi_7', amount: 50, currency: 'usd' }, earlier: true });
  });
  test("an error that is not the gateway's is thrown: a bug is not an answer", () => {
    assert.throws(() => answerOfError(new TypeError('oops')), TypeError);
  });
});
