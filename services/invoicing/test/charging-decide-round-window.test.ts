// decide()'s 3-D Secure window counts from the round's first ask (the row's
// roundAskedAt, round-ask.ts), not from its latest attempt: asked again on a new
// PaymentIntent after card testing revoked the old one, the window goes on.
// card-testing-window.test.ts is the end-to-end case.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NEW_CHARGE, authenticationWindow, decide, type ChargeableInvoice, type ChargeRow } from '../src/charging/decide.ts';

const NOW = new Date('2026-11-05T00:00:00Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
const WINDOW = authenticationWindow([259_200, 432_000]);
const invoice: ChargeableInvoice = {
  id: 'inv-1',
  accountId: 'acct-1',
  number: '2026-10-000001',
  status: 'action_required',
  currency: 'USD',
  total: '52.58',
};
const card = { customerId: 'cus_1', paymentMethodId: 'pm_a' };
// Asked first at NOW, asked again (attempt 3, same card) 6 days later.
const askedAgain: ChargeRow = {
  ...NEW_CHARGE,
  paymentIntentId: 'pi_3',
  state: 'action_required',
  attempts: 3,
  lastPaymentMethodId: 'pm_a',
  lastAttemptAt: at(6 * 86_400),
  roundAskedAt: NOW,
};

describe('the 3-D Secure window of a round asked more than once (pure)', () => {
  test('ends a window after the round’s first ask, however recent the latest', () => {
    assert.deepEqual(decide(invoice, askedAgain, card, at(WINDOW - 1), WINDOW), { do: 'nothing', why: 'waiting_for_customer' });
    assert.deepEqual(decide(invoice, askedAgain, card, at(WINDOW), WINDOW), { do: 'past_due_unauthenticated' });
  });

  test('a row without it (never asked in this round as stored) counts from its latest attempt, as before', () => {
    const { roundAskedAt: _, ...plain } = askedAgain;
    assert.deepEqual(decide(invoice, plain, card, at(WINDOW), WINDOW), { do: 'nothing', why: 'waiting_for_customer' });
    assert.deepEqual(decide(invoice, plain, card, at(6 * 86_400 + WINDOW), WINDOW), { do: 'past_due_unauthenticated' });
  });

  test('a past-due invoice’s looks still count from the last look (lastAttemptAt), not from the first ask', () => {
    const pastDue = { ...invoice, status: 'past_due' as const };
    assert.deepEqual(decide(pastDue, askedAgain, card, at(6 * 86_400 + 60), WINDOW, at(6 * 86_400)), {
      do: 'nothing',
      why: 'waiting_for_customer',
    });
  });
});
