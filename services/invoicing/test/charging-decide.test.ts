import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { minimumCharge, minimumChargeAmount, minorUnits } from '../src/charging/amount.ts';
import {
  NEW_CHARGE,
  PAST_DUE_HOURLY_LOOKS_FOR_SECONDS,
  PAST_DUE_LOOK_EVERY_SECONDS,
  afterAnswer,
  authenticationWindow,
  beforeAttempt,
  decide,
  pastDueWithoutCard,
  type Answer,
  type CardOnFile,
  type ChargeableInvoice,
  type ChargeRow,
  type Decision,
} from '../src/charging/decide.ts';
import { attemptKey } from '../src/charging/gateway-calls.ts';

const NOW = new Date('2026-11-05T00:00:00Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
const SCHEDULE = [259_200, 432_000]; // P3D, P5D

const invoice = (over: Partial<ChargeableInvoice> = {}): ChargeableInvoice => ({
  id: 'inv-1',
  accountId: 'acct-1',
  number: '2026-10-000001',
  status: 'finalized',
  currency: 'USD',
  total: '52.58',
  ...over,
});
const card = (pm = 'pm_a'): CardOnFile => ({ customerId: 'cus_1', paymentMethodId: pm });
const row = (over: Partial<ChargeRow> = {}): ChargeRow => ({ ...NEW_CHARGE, paymentIntentId: 'pi_1', nextAttemptAt: NOW, ...over });
const declined: Answer = { kind: 'declined', code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' };

describe('charging decisions (pure)', () => {
  const cases: [string, ChargeableInvoice, ChargeRow | undefined, CardOnFile | undefined, Partial<Decision>][] = [
    [
      'a new invoice with a card: attempt 1, a new round, 5258 cents',
      invoice(),
      undefined,
      card(),
      { do: 'attempt', attempt: 1, paymentMethodId: 'pm_a', customerId: 'cus_1', amount: 5258, newRound: true, replay: false },
    ],
    ['a paid invoice: nothing', invoice({ status: 'paid' }), undefined, card(), { do: 'nothing', why: 'paid' }],
    [
      'a paid charge row: nothing, whatever the invoice says',
      invoice(),
      row({ state: 'paid', nextAttemptAt: null }),
      card(),
      { do: 'nothing', why: 'paid' },
    ],
    ['a zero total: never charged', invoice({ total: '0.00' }), undefined, card(), { do: 'nothing', why: 'nothing_to_charge' }],
    [
      'a negative total (a credit): never charged',
      invoice({ total: '-3.61' }),
      undefined,
      card(),
      { do: 'nothing', why: 'nothing_to_charge' },
    ],
    ['no card, never tried: past_due', invoice(), undefined, undefined, { do: 'past_due_no_card' }],
    [
      'no card, already past_due: wait for a card',
      invoice({ status: 'past_due' }),
      row({ state: 'past_due', nextAttemptAt: null }),
      undefined,
      { do: 'nothing', why: 'waiting_for_card' },
    ],
    [
      'a card added after past_due for want of one: charge, a new round',
      invoice({ status: 'past_due' }),
      row({ state: 'past_due', nextAttemptAt: null, paymentIntentId: null }),
      card(),
      { do: 'attempt', attempt: 1, newRound: true },
    ],
    [
      'declined once, retry not due yet: nothing',
      invoice(),
      row({ attempts: 1, lastPaymentMethodId: 'pm_a', nextAttemptAt: at(10) }),
      card(),
      { do: 'nothing', why: 'not_yet' },
    ],
    [
      'declined once, retry due: attempt 2, same round',
      invoice(),
      row({ attempts: 1, lastPaymentMethodId: 'pm_a', nextAttemptAt: at(-1) }),
      card(),
      { do: 'attempt', attempt: 2, newRound: false, replay: false },
    ],
    [
      'declined once, a new card before the retry is due: attempt 2 at once, a new round',
      invoice(),
      row({ attempts: 1, lastPaymentMethodId: 'pm_a', nextAttemptAt: at(10) }),
      card('pm_b'),
      { do: 'attempt', attempt: 2, paymentMethodId: 'pm_b', newRound: true },
    ],
    [
      'past_due after the last decline, same card: wait',
      invoice({ status: 'past_due' }),
      row({ state: 'past_due', attempts: 3, lastPaymentMethodId: 'pm_a', nextAttemptAt: null }),
      card(),
      { do: 'nothing', why: 'waiting_for_card' },
    ],
    [
      'past_due after the last decline, another card: attempt 4, a new round',
      invoice({ status: 'past_due' }),
      row({ state: 'past_due', attempts: 3, lastPaymentMethodId: 'pm_a', nextAttemptAt: null }),
      card('pm_b'),
      { do: 'attempt', attempt: 4, paymentMethodId: 'pm_b', newRound: true },
    ],
    [
      'an attempt pending: the same request again, even with another card on file',
      invoice(),
      row({ attempts: 1, pendingPaymentMethodId: 'pm_a', nextAttemptAt: at(10) }),
      card('pm_b'),
      { do: 'attempt', attempt: 2, paymentMethodId: 'pm_a', newRound: false, replay: true },
    ],
    [
      'an attempt pending and the card removed since: still sent again',
      invoice(),
      row({ pendingPaymentMethodId: 'pm_a' }),
      undefined,
      { do: 'attempt', attempt: 1, paymentMethodId: 'pm_a', replay: true },
    ],
    [
      'an attempt pending before its PaymentIntent was saved (nothing confirmed), the card removed since: past_due for want of a card, not a create it cannot replay',
      invoice(),
      row({ pendingPaymentMethodId: 'pm_a', paymentIntentId: null }),
      undefined,
      { do: 'past_due_no_card' },
    ],
    [
      'declined, the card removed, retry due: past_due for want of a card',
      invoice(),
      row({ attempts: 1, lastPaymentMethodId: 'pm_a', nextAttemptAt: at(-1) }),
      undefined,
      { do: 'past_due_no_card' },
    ],
    [
      'declined, the card removed, retry not due: nothing yet',
      invoice(),
      row({ attempts: 1, lastPaymentMethodId: 'pm_a', nextAttemptAt: at(1) }),
      undefined,
      { do: 'nothing', why: 'not_yet' },
    ],
    [
      "a total below the gateway's minimum (50 cents): never charged",
      invoice({ total: '0.49' }),
      undefined,
      card(),
      { do: 'nothing', why: 'below_minimum' },
    ],
    ['exactly the minimum is charged', invoice({ total: '0.50' }), undefined, card(), { do: 'attempt', amount: 50 }],
    [
      "a total below the gateway's minimum in a currency other than USD's 50 cents (SEK 3.00): never sent, so never refused as amount_too_small",
      invoice({ currency: 'SEK', total: '2.00' }),
      undefined,
      card(),
      { do: 'nothing', why: 'below_minimum' },
    ],
    [
      'SEK at its minimum (3.00) is charged',
      invoice({ currency: 'SEK', total: '3.00' }),
      undefined,
      card(),
      { do: 'attempt', amount: 300 },
    ],
    [
      "HUF below Stripe's 175.00 is never charged",
      invoice({ currency: 'HUF', total: '174.99' }),
      undefined,
      card(),
      { do: 'nothing', why: 'below_minimum' },
    ],
    [
      'a zero-decimal currency: whole units',
      invoice({ currency: 'JPY', total: '1200' }),
      undefined,
      card(),
      { do: 'attempt', amount: 1200 },
    ],
  ];
  for (const [name, inv, charge, c, want] of cases) {
    test(name, () => {
      const got = decide(inv, charge, c, NOW);
      assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof Decision]])), want);
    });
  }

  test('a decline schedules the retry after PAYMENT_RETRY_SCHEDULE[k-1]; the third decline makes the invoice past_due', () => {
    let charge = row();
    const first = afterAnswer(charge, 'pm_a', declined, NOW, SCHEDULE);
    assert.equal(first.invoiceStatus, undefined);
    assert.deepEqual(
      [
        first.charge.state,
        first.charge.attempts,
        first.charge.nextAttemptAt,
        first.charge.lastDeclineCode,
        first.charge.lastPaymentMethodId,
      ],
      ['scheduled', 1, at(259_200), 'generic_decline', 'pm_a'],
    );
    charge = first.charge;
    const second = afterAnswer(charge, 'pm_a', declined, at(259_200), SCHEDULE);
    assert.deepEqual([second.charge.state, second.charge.attempts, second.charge.nextAttemptAt], ['scheduled', 2, at(259_200 + 432_000)]);
    const third = afterAnswer(second.charge, 'pm_a', declined, at(700_000), SCHEDULE);
    assert.equal(third.invoiceStatus, 'past_due');
    assert.deepEqual([third.charge.state, third.charge.attempts, third.charge.nextAttemptAt], ['past_due', 3, null]);
  });

  test('a refusal (4xx other than a card error) spends the attempt like a decline, with no decline code', () => {
    const after = afterAnswer(
      row({ pendingPaymentMethodId: 'pm_a' }),
      'pm_a',
      { kind: 'refused', code: 'resource_missing', message: 'No such payment_method' },
      NOW,
      SCHEDULE,
    );
    assert.deepEqual(
      [after.charge.attempts, after.charge.pendingPaymentMethodId, after.charge.lastErrorCode, after.charge.lastDeclineCode],
      [1, null, 'resource_missing', null],
    );
  });

  test('a new round counts declines from its start: three more declines before past_due again', () => {
    const pastDue = row({ state: 'past_due', attempts: 3, roundStart: 0, lastPaymentMethodId: 'pm_a', nextAttemptAt: null });
    const decision = decide(invoice({ status: 'past_due' }), pastDue, card('pm_b'), NOW);
    assert.equal(decision.do, 'attempt');
    if (decision.do !== 'attempt') return;
    let charge = beforeAttempt(pastDue, decision, NOW);
    assert.deepEqual([charge.state, charge.roundStart, charge.pendingPaymentMethodId, charge.nextAttemptAt], ['scheduled', 3, 'pm_b', NOW]);
    const statuses: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const after = afterAnswer({ ...charge, pendingPaymentMethodId: 'pm_b' }, 'pm_b', declined, NOW, SCHEDULE);
      statuses.push(after.invoiceStatus);
      charge = after.charge;
    }
    assert.deepEqual(statuses, [undefined, undefined, 'past_due']);
    assert.equal(charge.attempts, 6);
  });

  test('success: paid, the attempt counted, errors cleared, nothing scheduled', () => {
    const after = afterAnswer(
      row({ attempts: 1, pendingPaymentMethodId: 'pm_a', lastErrorCode: 'card_declined' }),
      'pm_a',
      { kind: 'succeeded', payment: { id: 'pi_1', amount: 5258, currency: 'usd' } },
      NOW,
      SCHEDULE,
    );
    assert.equal(after.invoiceStatus, 'paid');
    assert.deepEqual(
      [
        after.charge.state,
        after.charge.attempts,
        after.charge.nextAttemptAt,
        after.charge.pendingPaymentMethodId,
        after.charge.lastErrorCode,
      ],
      ['paid', 2, null, null, null],
    );
  });

  test('no answer: the attempt stays pending with its number, so the next pass sends the same key', () => {
    const pending = row({ attempts: 1, pendingPaymentMethodId: 'pm_a', nextAttemptAt: at(-5) });
    const after = afterAnswer(pending, 'pm_a', { kind: 'unanswered', code: 'StripeConnectionError', message: 'down' }, NOW, SCHEDULE);
    assert.equal(after.invoiceStatus, undefined);
    assert.deepEqual(after.charge, { ...pending, lastErrorCode: 'StripeConnectionError', lastErrorMessage: 'down' });
    const again = decide(invoice(), after.charge, card('pm_b'), NOW);
    assert.deepEqual(
      [again.do, (again as { attempt: number }).attempt, (again as { paymentMethodId: string }).paymentMethodId],
      ['attempt', 2, 'pm_a'],
    );
    assert.equal(attemptKey('inv-1', 2), 'inv-1:attempt:2');
  });

  test('an account without a card: the row says why, nothing scheduled', () => {
    const r = pastDueWithoutCard(undefined);
    assert.deepEqual([r.state, r.attempts, r.nextAttemptAt, r.lastErrorCode], ['past_due', 0, null, 'no_card_on_file']);
  });

  test('without a card, an attempt that never reached a PaymentIntent is dropped (the next card starts afresh); one that did is kept to replay', () => {
    const dropped = pastDueWithoutCard(row({ pendingPaymentMethodId: 'pm_a', paymentIntentId: null }));
    assert.equal(dropped.pendingPaymentMethodId, null);
    assert.deepEqual(decide(invoice({ status: 'past_due' }), dropped, undefined, NOW), { do: 'nothing', why: 'waiting_for_card' });
    assert.equal(decide(invoice({ status: 'past_due' }), dropped, card('pm_b'), NOW).do, 'attempt');
    assert.equal(pastDueWithoutCard(row({ pendingPaymentMethodId: 'pm_a' })).pendingPaymentMethodId, 'pm_a');
  });
});

describe('amounts in minor units', () => {
  const cases: [string, string, number][] = [
    ['52.58', 'USD', 5258],
    ['0.01', 'USD', 1],
    ['1234567.05', 'USD', 123456705],
    ['25.00', 'usd', 2500],
    ['0.10', 'EUR', 10],
    ['1200', 'JPY', 1200],
  ];
  for (const [total, currency, want] of cases) {
    test(`${total} ${currency} is ${want}`, () => assert.equal(minorUnits(total, currency), want));
  }
  test("the gateway's smallest charge is Stripe's published one per currency, and never guessed for a currency without one", () => {
    assert.deepEqual(
      ['USD', 'gbp', 'SEK', 'NOK', 'DKK', 'HKD', 'MXN', 'PLN', 'CZK', 'HUF', 'BRL', 'INR', 'THB'].map((c) => minimumChargeAmount(c)),
      ['0.50', '0.30', '3.00', '3.00', '2.50', '4.00', '10.00', '2.00', '15.00', '175.00', '0.50', '0.50', '10.00'],
    );
    assert.equal(minimumCharge('JPY'), 50);
    for (const currency of ['TRY', 'ZAR', 'ILS']) {
      assert.throws(() => minimumCharge(currency), new RegExp(`no minimum charge in ${currency}`));
    }
  });

  test('a total with more decimals than the currency has is refused, never rounded', () => {
    assert.throws(() => minorUnits('1.005', 'USD'), /more than 2 decimals/);
    assert.throws(() => minorUnits('1.5', 'JPY'), /more than 0 decimals/);
  });
});

describe('a cardholder asked to authenticate (pure)', () => {
  const window = authenticationWindow(SCHEDULE); // 8 days: what the retries of a declined card take
  const asked = row({ state: 'action_required', nextAttemptAt: null, attempts: 1, lastPaymentMethodId: 'pm_a', lastAttemptAt: NOW });
  const waiting = invoice({ status: 'action_required' });

  test('the window is the retry schedule’s span', () => assert.equal(window, 691_200));

  test('within the window: nothing, with or without the same card; past it: past_due once', () => {
    for (const c of [card('pm_a'), undefined]) {
      assert.deepEqual(decide(waiting, asked, c, at(window - 1), window), { do: 'nothing', why: 'waiting_for_customer' });
      assert.deepEqual(decide(waiting, asked, c, at(window), window), { do: 'past_due_unauthenticated' });
      // Once past_due, it waits (the PaymentIntent still can be authenticated); its PaymentIntent is looked at
      // hourly, a payment whose webhook was lost found (charging-lost-payment.test.ts).
      const pastDue = invoice({ status: 'past_due' });
      assert.deepEqual(decide(pastDue, asked, c, at(PAST_DUE_LOOK_EVERY_SECONDS - 1), window, NOW), {
        do: 'nothing',
        why: 'waiting_for_customer',
      });
      assert.deepEqual(decide(pastDue, asked, c, at(PAST_DUE_LOOK_EVERY_SECONDS), window, NOW), { do: 'look_for_payment' });
      // Never rarer than a window when the window is shorter than an hour.
      assert.deepEqual(decide(pastDue, asked, c, at(600), 600, NOW), { do: 'look_for_payment' });
      // Asked over 30 days ago (abandoned, say): once a window again, or the looks would grow without end.
      const long = new Date(NOW.getTime() - (PAST_DUE_HOURLY_LOOKS_FOR_SECONDS + 1) * 1000);
      assert.deepEqual(decide(pastDue, asked, c, at(PAST_DUE_LOOK_EVERY_SECONDS), window, long), {
        do: 'nothing',
        why: 'waiting_for_customer',
      });
      assert.deepEqual(decide(pastDue, asked, c, at(window), window, long), { do: 'look_for_payment' });
    }
  });

  test('another card is tried at once, whatever the window', () => {
    const d = decide(waiting, asked, card('pm_b'), at(window * 2), window);
    assert.equal(d.do, 'attempt');
  });

  test('without a window (the default) it waits for ever', () => {
    assert.deepEqual(decide(waiting, asked, card('pm_a'), at(10 * window)), { do: 'nothing', why: 'waiting_for_customer' });
  });
});
