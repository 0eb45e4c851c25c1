// The card form's pure rules: messages per gateway code, the sliding-hour
// rate limit, how a card is shown.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { brandName, cardExpiry, cardSummary } from '../src/domain/card.ts';
import { cardErrorMessage, FALLBACK_MESSAGE } from '../src/domain/messages.ts';
import { decideAttempt, LOOKUP_WINDOW_SECONDS, lookupLimitMessage, rateLimitMessage, waitWording } from '../src/domain/rate-limit.ts';

describe('card error messages', () => {
  test('each test card failure has its own helpful message', () => {
    const cases: [object, RegExp][] = [
      [{ type: 'card_error', code: 'card_declined', decline_code: 'generic_decline' }, /was declined.*different card/],
      [{ type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' }, /insufficient funds/],
      [{ type: 'card_error', code: 'incorrect_cvc' }, /security code \(CVC\) is incorrect/],
      [{ type: 'card_error', code: 'expired_card' }, /has expired/],
      [{ type: 'card_error', code: 'processing_error' }, /error occurred while processing.*try again/],
      [{ type: 'card_error', code: 'incorrect_number' }, /card number is incorrect/],
      [{ type: 'validation_error', code: 'invalid_number' }, /card number is incorrect/],
      [{ type: 'validation_error', code: 'incomplete_cvc' }, /security code/],
      [{ type: 'card_error', code: 'card_declined', decline_code: 'test_mode_live_card' }, /test environment/],
      [{ type: 'api_connection_error' }, /could not reach the payment gateway/],
    ];
    for (const [error, message] of cases) assert.match(cardErrorMessage(error), message, JSON.stringify(error));
  });

  test('decline_code wins over code, code over type; an unknown one gets the fallback', () => {
    assert.match(cardErrorMessage({ code: 'card_declined', decline_code: 'insufficient_funds' }), /insufficient funds/);
    assert.equal(cardErrorMessage({ code: 'card_declined', decline_code: 'no_such_reason' }), cardErrorMessage({ code: 'card_declined' }));
    assert.equal(cardErrorMessage({ type: 'weird', code: 'unheard_of' }), FALLBACK_MESSAGE);
    assert.equal(cardErrorMessage({ code: 'toString' }), FALLBACK_MESSAGE, 'only the table’s own keys');
  });
});

describe('the card attempts rate limit', () => {
  const now = new Date('2026-11-20T12:00:00Z');
  const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000);

  test('allows up to the limit in the last hour, then says when the oldest attempt leaves the window', () => {
    assert.deepEqual(decideAttempt([], 3, now), { allowed: true, remaining: 2 });
    assert.deepEqual(decideAttempt([ago(50), ago(10)], 3, now), { allowed: true, remaining: 0 });
    assert.deepEqual(decideAttempt([ago(50), ago(20), ago(10)], 3, now), { allowed: false, retryAfterSeconds: 600 });
  });

  test('attempts an hour old or older no longer count', () => {
    assert.deepEqual(decideAttempt([ago(60), ago(20), ago(10)], 3, now), { allowed: true, remaining: 0 });
  });

  test('with more attempts than the limit (the limit was lowered), the retry waits until one fits', () => {
    assert.deepEqual(decideAttempt([ago(55), ago(40), ago(30), ago(5)], 2, now), { allowed: false, retryAfterSeconds: 30 * 60 });
  });

  test('a fractional limit is floored, and never below one', () => {
    assert.deepEqual(decideAttempt([ago(1)], 1.9, now), { allowed: false, retryAfterSeconds: 59 * 60 });
    assert.deepEqual(decideAttempt([], 0.2, now), { allowed: true, remaining: 0 });
  });

  test('the message says how many, why, and when to try again', () => {
    assert.equal(waitWording(1), 'in 1 second');
    assert.equal(waitWording(59), 'in 59 seconds');
    assert.equal(waitWording(60), 'in 1 minute');
    assert.equal(waitWording(61), 'in 2 minutes');
    assert.equal(
      rateLimitMessage(10, 2520),
      'You have tried 10 cards in the last hour, the most we allow to protect your account. Please try again in 42 minutes. Nothing was saved.',
    );
  });
});

describe('the gateway lookups limit', () => {
  const now = new Date('2026-11-20T12:00:00Z');
  const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);

  test('the same rule over a sliding minute: lookups a minute old no longer count', () => {
    const decide = (recent: Date[]) => decideAttempt(recent, 2, now, LOOKUP_WINDOW_SECONDS);
    assert.deepEqual(decide([ago(50)]), { allowed: true, remaining: 0 });
    assert.deepEqual(decide([ago(50), ago(5)]), { allowed: false, retryAfterSeconds: 10 });
    assert.deepEqual(decide([ago(60), ago(5)]), { allowed: true, remaining: 0 });
  });

  test('the message says why and when, and what did not happen', () => {
    assert.equal(
      lookupLimitMessage(42, 'Nothing was charged.'),
      'Your account has made too many requests to the payment gateway in the last minute, the most we allow. Please try again in 42 seconds. Nothing was charged.',
    );
  });
});

describe('a card on file as shown', () => {
  test('brand name, four masked groups and the last four, expiry as MM/YYYY', () => {
    assert.equal(cardSummary({ brand: 'visa', last4: '4242' }), 'Visa •••• 4242');
    assert.equal(cardSummary({ brand: 'amex', last4: '0005' }), 'American Express •••• 0005');
    assert.equal(brandName('mystery'), 'Card');
    assert.equal(cardExpiry({ expMonth: 3, expYear: 2034 }), '03/2034');
  });
});
