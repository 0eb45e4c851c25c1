// Pure pieces: Luhn, the test-card table, card detail checks, 3-D Secure decisions, test payment method names, webhook
// signatures (checked against the SDK), retry backoff, param names, canonical params.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Stripe from 'stripe';
import { z } from 'zod';
import { paramName } from '../src/api/errors.ts';
import { parseForm } from '../src/api/form-body.ts';
import { canonicalJson } from '../src/api/idempotency.ts';
import { expand, metadata, parseParams } from '../src/api/params.ts';
import { brandOf, cardFacts, chargeFailure, detailError, luhnValid, setupFailure, TEST_CARDS } from '../src/domain/test-cards.ts';
import { authenticationDecision } from '../src/domain/authentication.ts';
import { TEST_PAYMENT_METHODS, TEST_TOKENS, testPaymentMethodNumber, testTokenNumber } from '../src/domain/test-payment-methods.ts';
import { retryDelayMs } from '../src/webhooks/deliver.ts';
import { signatureHeader, webhookSignature } from '../src/webhooks/sign.ts';

const TODAY = { year: 2026, month: 11 };

describe('test cards', () => {
  test('Luhn: every documented test number is valid; one changed digit is not', () => {
    for (const number of Object.keys(TEST_CARDS)) {
      assert.ok(luhnValid(number), number);
      const last = Number(number.at(-1));
      assert.ok(!luhnValid(number.slice(0, -1) + ((last + 1) % 10)), `${number} altered`);
    }
    assert.ok(luhnValid('4111111111111111'));
    assert.ok(!luhnValid('4242424242424241'));
    assert.ok(!luhnValid('42424242424242a2'));
  });

  const TABLE: [string, string, string, string | undefined, string | undefined][] = [
    // number, brand, behaviour, setup failure (code/decline), charge failure
    ['4242424242424242', 'visa', 'succeed', undefined, undefined],
    ['5555555555554444', 'mastercard', 'succeed', undefined, undefined],
    ['378282246310005', 'amex', 'succeed', undefined, undefined],
    ['6011111111111117', 'discover', 'succeed', undefined, undefined],
    ['4000000000000002', 'visa', 'generic_decline', 'card_declined/generic_decline', 'card_declined/generic_decline'],
    ['4000000000009995', 'visa', 'insufficient_funds', 'card_declined/insufficient_funds', 'card_declined/insufficient_funds'],
    ['4000000000000127', 'visa', 'incorrect_cvc', 'incorrect_cvc/incorrect_cvc', 'incorrect_cvc/incorrect_cvc'],
    ['4000000000000069', 'visa', 'expired_card', 'expired_card/expired_card', 'expired_card/expired_card'],
    ['4000000000000119', 'visa', 'processing_error', 'processing_error/processing_error', 'processing_error/processing_error'],
    ['4000000000000341', 'visa', 'charge_declined', undefined, 'card_declined/generic_decline'],
    ['4000002500003155', 'visa', 'authenticate_unless_set_up', undefined, undefined],
    ['4000002760003184', 'visa', 'authenticate_always', undefined, undefined],
    ['4000000000003220', 'visa', 'authenticate_always', undefined, undefined],
    ['4111111111111111', 'visa', 'live_card', 'card_declined/test_mode_live_card', 'card_declined/test_mode_live_card'],
    ['5105105105105100', 'mastercard', 'succeed', undefined, undefined],
    ['3566002020360505', 'jcb', 'succeed', undefined, undefined],
    ['3056930009020004', 'diners', 'succeed', undefined, undefined],
    ['6205500000000000004', 'unionpay', 'succeed', undefined, undefined],
    ['4000000000009987', 'visa', 'lost_card', 'card_declined/lost_card', 'card_declined/lost_card'],
    ['4000000000009979', 'visa', 'stolen_card', 'card_declined/stolen_card', 'card_declined/stolen_card'],
    ['4000000000006975', 'visa', 'card_velocity_exceeded', 'card_declined/card_velocity_exceeded', 'card_declined/card_velocity_exceeded'],
    ['4000000000000077', 'visa', 'succeed', undefined, undefined],
    ['4012888888881881', 'visa', 'succeed', undefined, undefined],
  ];
  for (const [number, brand, behaviour, setup, charge] of TABLE) {
    test(`${number}: ${brand}, ${behaviour}, setup ${setup ?? 'ok'}, charge ${charge ?? 'ok'}`, () => {
      const facts = cardFacts(number);
      assert.equal(facts.brand, brand);
      assert.equal(facts.last4, number.slice(-4));
      assert.equal(facts.behaviour, behaviour);
      const show = (f: { code: string; decline_code?: string } | undefined) => f && `${f.code}/${f.decline_code}`;
      assert.equal(show(setupFailure(facts.behaviour)), setup);
      assert.equal(show(chargeFailure(facts.behaviour)), charge);
    });
  }

  test("the messages are Stripe's", () => {
    assert.equal(chargeFailure('generic_decline')!.message, 'Your card was declined.');
    assert.equal(chargeFailure('insufficient_funds')!.message, 'Your card has insufficient funds.');
    assert.equal(chargeFailure('incorrect_cvc')!.message, "Your card's security code is incorrect.");
    assert.equal(chargeFailure('expired_card')!.message, 'Your card has expired.');
    assert.equal(chargeFailure('processing_error')!.message, 'An error occurred while processing your card. Try again in a little bit.');
  });

  test('brands by prefix', () => {
    assert.equal(brandOf('2223003122003222'), 'mastercard');
    assert.equal(brandOf('3056930009020004'), 'diners');
    assert.equal(brandOf('3566002020360505'), 'jcb');
    assert.equal(brandOf('6200000000000005'), 'unionpay');
    assert.equal(brandOf('9999999999999995'), 'unknown');
  });

  test('card details: number, expiry (past, month, two-digit year, far future), CVC', () => {
    const ok = { number: '4242 4242 4242 4242', exp_month: 12, exp_year: 2034, cvc: '123' };
    assert.equal(detailError(ok, TODAY), undefined);
    assert.equal(detailError({ ...ok, number: '4242424242424241' }, TODAY), 'incorrect_number');
    assert.equal(detailError({ ...ok, number: '4242' }, TODAY), 'incorrect_number');
    assert.equal(detailError({ ...ok, exp_month: 13 }, TODAY), 'invalid_expiry_month');
    assert.equal(detailError({ ...ok, exp_year: 2025 }, TODAY), 'invalid_expiry_year');
    assert.equal(detailError({ ...ok, exp_year: 2026, exp_month: 10 }, TODAY), 'invalid_expiry_month');
    assert.equal(detailError({ ...ok, exp_year: 2026, exp_month: 11 }, TODAY), undefined);
    assert.equal(detailError({ ...ok, exp_year: 30 }, TODAY), undefined);
    assert.equal(detailError({ ...ok, exp_year: 2090 }, TODAY), 'invalid_expiry_year');
    assert.equal(detailError({ ...ok, cvc: '12' }, TODAY), 'invalid_cvc');
    assert.equal(detailError({ ...ok, cvc: undefined }, TODAY), undefined);
  });
});

describe('3-D Secure and test payment methods', () => {
  test('who must authenticate: 3155 when saved and on-session, off-session only until set up; 3184 always; 4242 never', () => {
    const uses = ['setup', 'on_session', 'off_session'] as const;
    const table = (behaviour: Parameters<typeof authenticationDecision>[0], setUp: boolean) =>
      uses.map((use) => authenticationDecision(behaviour, use, setUp));
    assert.deepEqual(table('authenticate_unless_set_up', false), ['challenge', 'challenge', 'refuse']);
    assert.deepEqual(table('authenticate_unless_set_up', true), ['challenge', 'challenge', 'proceed']);
    assert.deepEqual(table('authenticate_always', true), ['challenge', 'challenge', 'refuse']);
    assert.deepEqual(table('succeed', false), ['proceed', 'proceed', 'proceed']);
    assert.deepEqual(table('generic_decline', false), ['proceed', 'proceed', 'proceed']);
  });

  test('pm_card_* and tok_* names stand for their test numbers; unknown names and prototype keys for none', () => {
    assert.equal(testPaymentMethodNumber('pm_card_visa'), '4242424242424242');
    assert.equal(testPaymentMethodNumber('pm_card_authenticationRequired'), '4000002760003184');
    assert.equal(testPaymentMethodNumber('pm_card_authenticationRequiredOnSetup'), '4000002500003155');
    assert.equal(testTokenNumber('tok_chargeDeclined'), '4000000000000002');
    assert.equal(testPaymentMethodNumber('pm_card_constructor'), undefined);
    assert.equal(testPaymentMethodNumber('pm_1234'), undefined);
    assert.equal(testTokenNumber('pm_card_visa'), undefined);
    for (const name of TEST_PAYMENT_METHODS) assert.ok(TEST_CARDS[testPaymentMethodNumber(name)!], `${name} is a test card`);
    for (const name of TEST_TOKENS) assert.ok(TEST_CARDS[testTokenNumber(name)!], `${name} is a test card`);
    // Stripe lists these as tokens only.
    assert.equal(testTokenNumber('tok_visa_chargeDeclinedExpiredCard'), '4000000000000069');
    assert.equal(testPaymentMethodNumber('pm_card_visa_chargeDeclinedExpiredCard'), undefined);
  });
});

describe('webhook signatures', () => {
  test('the SDK verifies our header; a changed body or secret fails', () => {
    const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'customer.created', data: { object: {} } });
    const t = Math.floor(Date.now() / 1000);
    const header = signatureHeader('whsec_test', t, body);
    assert.equal(header, `t=${t},v1=${webhookSignature('whsec_test', t, body)}`);
    assert.equal(Stripe.webhooks.constructEvent(body, header, 'whsec_test').id, 'evt_1');
    assert.throws(() => Stripe.webhooks.constructEvent(body + ' ', header, 'whsec_test'));
    assert.throws(() => Stripe.webhooks.constructEvent(body, header, 'whsec_other'));
    // The SDK's own test header is the same signature.
    assert.equal(Stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_test', timestamp: t }), header);
  });

  test('an old timestamp is refused by the SDK (tolerance 300 s)', () => {
    const body = '{"id":"evt_old"}';
    const header = signatureHeader('whsec_test', Math.floor(Date.now() / 1000) - 600, body);
    assert.throws(() => Stripe.webhooks.constructEvent(body, header, 'whsec_test'), /tolerance/);
  });

  test('retry delays double from the base up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 20].map((n) => retryDelayMs(n, 1000, 10_000)),
      [1000, 2000, 4000, 8000, 10_000, 10_000],
    );
  });
});

describe('params', () => {
  test('a param path in form notation', () => {
    assert.equal(paramName(['card', 'number']), 'card[number]');
    assert.equal(paramName(['invoice_settings', 'default_payment_method']), 'invoice_settings[default_payment_method]');
    assert.equal(paramName(['expand', 0]), 'expand[0]');
    assert.equal(paramName(['amount']), 'amount');
  });

  test('canonical params ignore key order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } }),
      canonicalJson({ a: { c: 'x', d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    assert.notEqual(canonicalJson({ a: '1' }), canonicalJson({ a: '2' }));
  });

  test('metadata keys that look like indexes stay keys; expand[], enabled_events[] and types stay arrays', () => {
    assert.deepEqual(parseForm('metadata[0]=a'), { metadata: { '0': 'a' } });
    assert.deepEqual(parseForm('metadata%5B0%5D=a&metadata%5B7%5D=b&metadata%5Bx%5D=c'), { metadata: { '0': 'a', '7': 'b', x: 'c' } });
    const body = parseForm('metadata[1]=one&expand[0]=latest_charge&expand[1]=customer&payment_method_types[0]=card&enabled_events[]=*');
    assert.deepEqual(body, {
      metadata: { '1': 'one' },
      expand: ['latest_charge', 'customer'],
      payment_method_types: ['card'],
      enabled_events: ['*'],
    });
    const Params = z.object({ metadata, expand }).strict();
    assert.deepEqual(parseParams(Params, { metadata: body.metadata, expand: body.expand }), {
      metadata: { '1': 'one' },
      expand: ['latest_charge', 'customer'],
    });
    assert.deepEqual(parseForm('expand[]=a&expand[]=b&metadata[k]=v'), { expand: ['a', 'b'], metadata: { k: 'v' } });
    assert.deepEqual(parseForm('metadata='), { metadata: '' }, "'' still clears all");
  });
});
