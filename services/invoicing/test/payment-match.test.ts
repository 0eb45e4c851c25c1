import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { paysInvoice } from '../src/charging/payment-match.ts';

describe('which payment pays an invoice (pure)', () => {
  const invoice = { total: '214.16', currency: 'USD', paymentIntentId: 'pi_own' };
  const cases: [string, Parameters<typeof paysInvoice>, ReturnType<typeof paysInvoice>][] = [
    ['its own PaymentIntent, its amount and currency', [{ id: 'pi_own', amount: 21416, currency: 'usd' }, invoice], { pays: true }],
    [
      '0.50 USD from another PaymentIntent naming it',
      [{ id: 'pi_x', amount: 50, currency: 'usd' }, invoice],
      { pays: false, reason: 'not_its_payment_intent' },
    ],
    [
      'its amount from another PaymentIntent',
      [{ id: 'pi_x', amount: 21416, currency: 'usd' }, invoice],
      { pays: false, reason: 'not_its_payment_intent' },
    ],
    [
      'its own PaymentIntent, a cent short',
      [{ id: 'pi_own', amount: 21415, currency: 'usd' }, invoice],
      { pays: false, reason: 'amount_mismatch' },
    ],
    [
      'its own PaymentIntent, a cent over',
      [{ id: 'pi_own', amount: 21417, currency: 'usd' }, invoice],
      { pays: false, reason: 'amount_mismatch' },
    ],
    [
      'its own PaymentIntent in euros',
      [{ id: 'pi_own', amount: 21416, currency: 'eur' }, invoice],
      { pays: false, reason: 'currency_mismatch' },
    ],
    [
      'before charging stored a PaymentIntent',
      [
        { id: 'pi_own', amount: 21416, currency: 'usd' },
        { ...invoice, paymentIntentId: null },
      ],
      { pays: false, reason: 'no_payment_intent_recorded' },
    ],
    [
      'an invoice we do not have',
      [{ id: 'pi_own', amount: 21416, currency: 'usd' }, undefined],
      { pays: false, reason: 'unknown_invoice' },
    ],
    [
      'a zero-decimal currency counts whole units',
      [
        { id: 'pi_own', amount: 500, currency: 'jpy' },
        { total: '500', currency: 'JPY', paymentIntentId: 'pi_own' },
      ],
      { pays: true },
    ],
  ];
  for (const [name, args, want] of cases) {
    test(name, () => assert.deepEqual(paysInvoice(...args), want));
  }
});
