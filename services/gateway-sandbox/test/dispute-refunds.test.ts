// Refunds of a disputed charge, as Stripe answers them, through the official SDK: refused while the
// chargeback is open (charge_disputed); once won the money is the merchant's again and the charge may
// be refunded; once lost, only what the dispute did not take (a dispute may be for part of the charge:
// the sandbox's test helper opens one). A dispute's `is_charge_refundable` says which.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { card, startSandbox, type Sandbox } from './harness.ts';

describe('refunds of a disputed charge, and is_charge_refundable', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  /** A PaymentIntent of `amount` cents confirmed off-session with `paymentMethod`. */
  const pay = async (paymentMethod: string, amount = 2500) => {
    const customer = await sb.stripe.customers.create({});
    return sb.stripe.paymentIntents.create({
      amount,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
      payment_method: paymentMethod,
      confirm: true,
      off_session: true,
    });
  };
  const disputeOf = async (pi: Stripe.PaymentIntent) => {
    const list = await sb.stripe.disputes.list({ payment_intent: pi.id });
    assert.equal(list.data.length, 1);
    return list.data[0]!;
  };
  /** The sandbox's test helper: the bank disputes `amount` of the charge now (not Stripe's API). */
  const disputePart = (charge: string, params: Record<string, unknown>): Promise<Stripe.Dispute> =>
    sb.stripe.rawRequest('POST', `/v1/test_helpers/charges/${charge}/dispute`, params);
  const refused = (code: string, message?: RegExp) => (err: unknown) => {
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
  const refundedOf = async (pi: Stripe.PaymentIntent) => (await sb.stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded;

  test('open (needs_response, under_review): not refundable, refused charge_disputed', async () => {
    const pi = await pay('pm_card_createDispute');
    const dispute = await disputeOf(pi);
    assert.equal(dispute.is_charge_refundable, false);
    await assert.rejects(sb.stripe.refunds.create({ payment_intent: pi.id }), refused('charge_disputed', /has been charged back/));
    const reviewed = await sb.stripe.disputes.update(dispute.id, { evidence: { product_description: 'compute' } });
    assert.deepEqual([reviewed.status, reviewed.is_charge_refundable], ['under_review', false]);
    await assert.rejects(sb.stripe.refunds.create({ charge: pi.latest_charge as string, amount: 100 }), refused('charge_disputed'));
    assert.equal(await refundedOf(pi), 0);
  });

  test('won: refundable again, in parts up to the charge, each a charge.refunded; then not refundable, already refunded', async () => {
    const pi = await pay('pm_card_createDispute', 1999);
    const won = await sb.stripe.disputes.update((await disputeOf(pi)).id, { evidence: { uncategorized_text: 'winning_evidence' } });
    assert.deepEqual([won.status, won.is_charge_refundable], ['won', true]);
    const closed = (await sb.stripe.events.list({ type: 'charge.dispute.closed', limit: 100 })).data.find(
      (e) => (e.data.object as Stripe.Dispute).id === won.id,
    );
    assert.deepEqual(closed?.data.previous_attributes, { status: 'under_review', is_charge_refundable: false });
    const first = await sb.stripe.refunds.create({ payment_intent: pi.id, amount: 999 });
    assert.deepEqual([first.amount, first.status], [999, 'succeeded']);
    await assert.rejects(
      sb.stripe.refunds.create({ payment_intent: pi.id, amount: 1001 }),
      refused('amount_too_large', /\(\$10\.01\) is greater than unrefunded amount on charge \(\$10\.00\)/),
    );
    assert.equal((await sb.stripe.refunds.create({ payment_intent: pi.id })).amount, 1000);
    assert.equal(await refundedOf(pi), 1999);
    assert.equal((await sb.stripe.disputes.retrieve(won.id)).is_charge_refundable, false, 'nothing left to refund');
    await assert.rejects(sb.stripe.refunds.create({ payment_intent: pi.id }), refused('charge_already_refunded'));
    const refundedEvents = (await sb.stripe.events.list({ type: 'charge.refunded', limit: 100 })).data.filter(
      (e) => (e.data.object as Stripe.Charge).payment_intent === pi.id,
    );
    assert.deepEqual(
      refundedEvents.map((e) => (e.data.object as Stripe.Charge).amount_refunded),
      [1999, 999],
    );
  });

  test('lost for all of the charge: not refundable, charge_disputed', async () => {
    const pi = await pay('pm_card_createDispute');
    const lost = await sb.stripe.disputes.close((await disputeOf(pi)).id);
    assert.deepEqual([lost.status, lost.is_charge_refundable], ['lost', false]);
    await assert.rejects(sb.stripe.refunds.create({ payment_intent: pi.id, amount: 1 }), refused('charge_disputed'));
  });

  test('disputed for part of the charge (test helper): open, nothing refundable; lost, the rest only', async () => {
    const pi = await pay((await card(sb, '4242424242424242')).id);
    const charge = pi.latest_charge as string;
    const dispute = await disputePart(charge, { amount: 1000, reason: 'product_not_received' });
    assert.match(dispute.id, /^dp_/);
    assert.deepEqual(
      [dispute.amount, dispute.status, dispute.reason, dispute.payment_intent, dispute.is_charge_refundable],
      [1000, 'needs_response', 'product_not_received', pi.id, false],
    );
    assert.deepEqual(await disputeOf(pi), dispute);
    assert.equal((await sb.stripe.charges.retrieve(charge)).disputed, true);
    await assert.rejects(sb.stripe.refunds.create({ payment_intent: pi.id, amount: 100 }), refused('charge_disputed'));

    const lost = await sb.stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: 'losing_evidence' } });
    assert.deepEqual([lost.status, lost.is_charge_refundable], ['lost', true]);
    await assert.rejects(
      sb.stripe.refunds.create({ payment_intent: pi.id, amount: 1501 }),
      refused('amount_too_large', /\(\$15\.01\) is greater than unrefunded amount on charge \(\$15\.00\)/),
    );
    assert.equal((await sb.stripe.refunds.create({ payment_intent: pi.id })).amount, 1500, 'the rest, not the dispute’s part');
    assert.equal(await refundedOf(pi), 1500);
    assert.equal((await sb.stripe.disputes.retrieve(dispute.id)).is_charge_refundable, false);
    await assert.rejects(sb.stripe.refunds.create({ payment_intent: pi.id, amount: 1 }), refused('charge_disputed'));
  });

  test('the test helper: at most the charge’s amount, once per charge, a succeeded charge only', async () => {
    const pi = await pay((await card(sb, '4242424242424242')).id, 700);
    const charge = pi.latest_charge as string;
    await assert.rejects(disputePart(charge, { amount: 701 }), (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.param, 'amount');
      return true;
    });
    const whole = await disputePart(charge, {});
    assert.deepEqual([whole.amount, whole.reason], [700, 'general']);
    await assert.rejects(disputePart(charge, { amount: 1 }), refused('charge_disputed', /already disputed/));
    await assert.rejects(disputePart('ch_missing', {}), (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.statusCode, 404);
      return true;
    });
  });
});
