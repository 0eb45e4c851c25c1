// A card on file reported stolen (a fraudulent chargeback blocked it: blocked-cards.ts) is no card to
// decide(): never attempted, whatever the row says; the invoice goes past due as without a card, with
// the reason the row then carries. Another card is charged as ever. Pure.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  NEW_CHARGE,
  beforeAttempt,
  decide,
  pastDueWithoutCard,
  type CardOnFile,
  type ChargeableInvoice,
  type ChargeRow,
} from '../src/charging/decide.ts';

const NOW = new Date('2026-11-05T00:00:00Z');
const invoice = (over: Partial<ChargeableInvoice> = {}): ChargeableInvoice => ({
  id: 'inv-1',
  accountId: 'acct-1',
  number: '2026-10-000001',
  status: 'finalized',
  currency: 'USD',
  total: '52.58',
  ...over,
});
const stolen: CardOnFile = { customerId: 'cus_1', paymentMethodId: 'pm_stolen', blocked: true };
const row = (over: Partial<ChargeRow> = {}): ChargeRow => ({ ...NEW_CHARGE, paymentIntentId: 'pi_1', nextAttemptAt: NOW, ...over });

describe('a blocked card on file is no card (pure)', () => {
  test('never tried: past due for the blocked card, not attempted', () => {
    assert.deepEqual(decide(invoice(), undefined, stolen, NOW), { do: 'past_due_no_card', blocked: true });
  });

  test("its retry due (declined before it was reported): past due, not retried; another card's round too", () => {
    const due = row({ attempts: 1, lastPaymentMethodId: 'pm_stolen', lastErrorCode: 'card_declined' });
    assert.deepEqual(decide(invoice(), due, stolen, NOW), { do: 'past_due_no_card', blocked: true });
    const otherCardTried = row({ attempts: 1, lastPaymentMethodId: 'pm_old', nextAttemptAt: new Date(NOW.getTime() + 1000) });
    assert.deepEqual(decide(invoice(), otherCardTried, stolen, NOW), { do: 'nothing', why: 'not_yet' });
  });

  test('an attempt chosen and never made (no PaymentIntent): given up as without a card, not created', () => {
    const pending = row({ paymentIntentId: null, pendingPaymentMethodId: 'pm_stolen' });
    assert.deepEqual(decide(invoice(), pending, stolen, NOW), { do: 'past_due_no_card', blocked: true });
  });

  test('an attempt in flight on a card blocked since (its PaymentIntent made): not replayed with it but dropped, whatever card is on file', () => {
    // The confirm went unanswered (a 5xx, a crash); the card was then reported stolen.
    const inFlight = row({ pendingPaymentMethodId: 'pm_stolen', pendingBlocked: true, lastErrorCode: 'api_error (HTTP 500)' });
    assert.deepEqual(decide(invoice(), inFlight, stolen, NOW), { do: 'drop_blocked_attempt' });
    const fresh: CardOnFile = { customerId: 'cus_1', paymentMethodId: 'pm_new' };
    assert.deepEqual(decide(invoice(), inFlight, fresh, NOW), { do: 'drop_blocked_attempt' });
    // Its card not blocked: replayed as ever, the same card even if another is on file now.
    const unblocked = row({ pendingPaymentMethodId: 'pm_stolen' });
    assert.equal((decide(invoice(), unblocked, fresh, NOW) as { paymentMethodId?: string }).paymentMethodId, 'pm_stolen');
  });

  test('an attempt chosen on a card blocked since, never made (no PaymentIntent), a new card on file: the new card is tried, not the blocked one', () => {
    const chosen = row({ paymentIntentId: null, pendingPaymentMethodId: 'pm_stolen', pendingBlocked: true });
    const fresh: CardOnFile = { customerId: 'cus_1', paymentMethodId: 'pm_new' };
    const decision = decide(invoice(), chosen, fresh, NOW);
    assert.deepEqual(decision, {
      do: 'attempt',
      attempt: 1,
      paymentMethodId: 'pm_new',
      customerId: 'cus_1',
      amount: 5258,
      newRound: true,
      replay: false,
    });
    // The flag is the pass's read, never carried into the row it writes.
    assert.equal('pendingBlocked' in beforeAttempt(chosen, decision as Extract<typeof decision, { do: 'attempt' }>, NOW), false);
    // No card but the blocked one: past due for it, not created.
    assert.deepEqual(decide(invoice(), chosen, stolen, NOW), { do: 'past_due_no_card', blocked: true });
  });

  test('past due for it: waits for another card; a card not blocked is tried at once', () => {
    const told = pastDueWithoutCard(undefined, true);
    assert.deepEqual([told.state, told.lastErrorCode], ['past_due', 'card_reported_fraudulent']);
    assert.deepEqual(decide(invoice({ status: 'past_due' }), told, stolen, NOW), { do: 'nothing', why: 'waiting_for_card' });
    const fresh: CardOnFile = { customerId: 'cus_1', paymentMethodId: 'pm_new' };
    assert.equal(decide(invoice({ status: 'past_due' }), told, fresh, NOW).do, 'attempt');
  });
});
