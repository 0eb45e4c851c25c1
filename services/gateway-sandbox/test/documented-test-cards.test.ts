// Stripe's documented test PaymentMethods, tokens and numbers (https://docs.stripe.com/testing) give
// the documented outcome through the official SDK: the brands and the prepaid card succeed; the
// declines answer their code and decline_code; a name Stripe lists for tokens only is no PaymentMethod.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { card, startSandbox, type Sandbox } from './harness.ts';

const SUCCEED: [pm: string, brand: string, funding: string, last4: string][] = [
  ['pm_card_mastercard_prepaid', 'mastercard', 'prepaid', '5100'],
  ['pm_card_jcb', 'jcb', 'credit', '0505'],
  ['pm_card_diners', 'diners', 'credit', '0004'],
  ['pm_card_unionpay', 'unionpay', 'credit', '0005'],
  ['pm_card_bypassPending', 'visa', 'credit', '0077'],
];

const DECLINE: [pm: string, number: string, code: string, decline: string][] = [
  ['pm_card_visa_chargeDeclined', '4000000000000002', 'card_declined', 'generic_decline'],
  ['pm_card_visa_chargeDeclinedInsufficientFunds', '4000000000009995', 'card_declined', 'insufficient_funds'],
  ['pm_card_visa_chargeDeclinedLostCard', '4000000000009987', 'card_declined', 'lost_card'],
  ['pm_card_visa_chargeDeclinedStolenCard', '4000000000009979', 'card_declined', 'stolen_card'],
  ['pm_card_visa_chargeDeclinedVelocityLimitExceeded', '4000000000006975', 'card_declined', 'card_velocity_exceeded'],
];

describe("Stripe's documented test cards", () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  const pay = (payment_method: string) =>
    sb.stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      payment_method,
      confirm: true,
    });

  for (const [pm, brand, funding, last4] of SUCCEED) {
    test(`${pm}: the payment succeeds with a ${funding} ${brand} card`, async () => {
      const paid = await pay(pm);
      assert.equal(paid.status, 'succeeded');
      const used = await sb.stripe.paymentMethods.retrieve(paid.payment_method as string);
      assert.deepEqual([used.card?.brand, used.card?.funding, used.card?.last4], [brand, funding, last4]);
    });
  }

  for (const [pm, number, code, decline] of DECLINE) {
    test(`${pm} and ${number}: 402 ${code}/${decline}`, async () => {
      const byName = await pay(pm).catch((e: unknown) => e);
      assert.ok(byName instanceof Stripe.errors.StripeCardError, String(byName));
      assert.deepEqual([byName.code, byName.decline_code], [code, decline]);
      const byNumber = await pay((await card(sb, number)).id).catch((e: unknown) => e);
      assert.ok(byNumber instanceof Stripe.errors.StripeCardError, String(byNumber));
      assert.deepEqual([byNumber.code, byNumber.decline_code], [code, decline]);
    });
  }

  test('the other documented numbers succeed (second Visa, Amex, Discover debit, 14- and 19-digit cards)', async () => {
    for (const number of ['4012888888881881', '371449635398431', '6011981111111113', '36227206271667', '6205500000000000004']) {
      const paid = await pay((await card(sb, number)).id);
      assert.equal(paid.status, 'succeeded', number);
    }
  });

  test('tokens: tok_jcb and tok_mastercard_prepaid make cards; tok_visa_chargeDeclinedLostCard declines lost_card', async () => {
    const jcb = await sb.stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_jcb' } });
    assert.equal(jcb.card?.brand, 'jcb');
    const prepaid = await sb.stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_mastercard_prepaid' } });
    assert.equal(prepaid.card?.funding, 'prepaid');
    const lost = await sb.stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_visa_chargeDeclinedLostCard' } });
    await assert.rejects(pay(lost.id), (err: any) => err.code === 'card_declined' && err.decline_code === 'lost_card');
  });

  test('a decline card cannot be saved: attaching it is the same card error', async () => {
    const customer = await sb.stripe.customers.create({});
    await assert.rejects(
      sb.stripe.paymentMethods.attach('pm_card_visa_chargeDeclinedStolenCard', { customer: customer.id }),
      (err: any) => err instanceof Stripe.errors.StripeCardError && err.decline_code === 'stolen_card',
    );
  });

  test('a name Stripe lists for tokens only is no PaymentMethod (404)', async () => {
    await assert.rejects(pay('pm_card_visa_chargeDeclinedExpiredCard'), (err: any) => err.statusCode === 404);
    const expired = await sb.stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_visa_chargeDeclinedExpiredCard' } });
    await assert.rejects(pay(expired.id), (err: any) => err.code === 'expired_card');
  });
});
