// Disputes as Stripe's test mode makes them, through the official SDK: the
// card 4000000000000259 (and pm_card_createDispute) pays, then is disputed as
// fraudulent with its amount withdrawn; evidence wins or loses it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { card, startSandbox, type Sandbox } from './harness.ts';

describe('disputes (chargebacks) of the test card 4000000000000259', () => {
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
  /** The events about dispute `id`, oldest first. */
  const eventsOf = async (id: string) => {
    const types: string[] = [];
    for await (const e of sb.stripe.events.list({ type: 'charge.dispute.*', limit: 100 })) {
      if ((e.data.object as Stripe.Dispute).id === id) types.push(e.type);
    }
    return types.reverse();
  };
  const disputeOf = async (pi: Stripe.PaymentIntent) => {
    const list = await sb.stripe.disputes.list({ payment_intent: pi.id });
    assert.equal(list.data.length, 1);
    return list.data[0]!;
  };

  test('the charge succeeds and is disputed as fraudulent: needs_response, funds withdrawn, the charge disputed and not refundable', async () => {
    const pi = await pay((await card(sb, '4000000000000259')).id);
    assert.equal(pi.status, 'succeeded');
    const dispute = await disputeOf(pi);
    assert.match(dispute.id, /^dp_/);
    assert.equal(dispute.object, 'dispute');
    assert.equal(dispute.charge, pi.latest_charge);
    assert.equal(dispute.payment_intent, pi.id);
    assert.equal(dispute.amount, 2500);
    assert.equal(dispute.currency, 'usd');
    assert.equal(dispute.status, 'needs_response');
    assert.equal(dispute.reason, 'fraudulent');
    assert.equal(dispute.balance_transactions.length, 1);
    assert.equal(dispute.balance_transactions[0]!.amount, -2500);
    assert.equal(dispute.evidence.uncategorized_text, null);
    assert.deepEqual(await sb.stripe.disputes.retrieve(dispute.id), dispute);
    assert.equal((await sb.stripe.charges.retrieve(pi.latest_charge as string)).disputed, true);
    assert.deepEqual(await eventsOf(dispute.id), ['charge.dispute.created', 'charge.dispute.funds_withdrawn']);
    // Charged back, it is not refunded as well (Stripe's charge_disputed): the money would count as gone twice.
    await assert.rejects(sb.stripe.refunds.create({ payment_intent: pi.id }), (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.code, 'charge_disputed');
      return true;
    });
    // Any other card's charge is not disputed.
    const plain = await pay((await card(sb, '4242424242424242')).id);
    assert.equal((await sb.stripe.charges.retrieve(plain.latest_charge as string)).disputed, false);
    assert.equal((await sb.stripe.disputes.list({ payment_intent: plain.id })).data.length, 0);
  });

  test('winning_evidence wins it: funds reinstated, then closed; a closed dispute takes no more evidence', async () => {
    const dispute = await disputeOf(await pay('pm_card_createDispute', 1999));
    const won = await sb.stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: 'winning_evidence' } });
    assert.equal(won.status, 'won');
    assert.equal(won.evidence.uncategorized_text, 'winning_evidence');
    assert.equal(won.evidence_details.submission_count, 1);
    assert.deepEqual(
      won.balance_transactions.map((t) => t.amount),
      [-1999, 1999],
    );
    assert.deepEqual(await eventsOf(dispute.id), [
      'charge.dispute.created',
      'charge.dispute.funds_withdrawn',
      'charge.dispute.updated',
      'charge.dispute.funds_reinstated',
      'charge.dispute.closed',
    ]);
    await assert.rejects(sb.stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: 'more' } }), (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.match(err.message, /already closed/);
      return true;
    });
  });

  test('losing_evidence loses it: closed, nothing reinstated; other evidence leaves it under review; staged evidence is submitted by submit=true alone', async () => {
    const lost = await disputeOf(await pay('pm_card_createDispute'));
    const closed = await sb.stripe.disputes.update(lost.id, { evidence: { uncategorized_text: 'losing_evidence' } });
    assert.equal(closed.status, 'lost');
    assert.equal(closed.balance_transactions.length, 1);
    assert.deepEqual(await eventsOf(lost.id), [
      'charge.dispute.created',
      'charge.dispute.funds_withdrawn',
      'charge.dispute.updated',
      'charge.dispute.closed',
    ]);

    const pending = await disputeOf(await pay('pm_card_createDispute'));
    const draft = await sb.stripe.disputes.update(pending.id, { evidence: { customer_name: 'Ada' }, submit: false });
    assert.equal(draft.status, 'needs_response');
    assert.equal(draft.evidence_details.submission_count, 0);
    const reviewed = await sb.stripe.disputes.update(pending.id, { evidence: { product_description: 'compute' } });
    assert.equal(reviewed.status, 'under_review');
    assert.equal(reviewed.evidence.customer_name, 'Ada');
    const conceded = await sb.stripe.disputes.close(pending.id);
    assert.equal(conceded.status, 'lost');

    // Evidence staged (submit=false), then submitted alone (submit=true): decided on what was staged.
    const staged = await disputeOf(await pay('pm_card_createDispute'));
    await sb.stripe.disputes.update(staged.id, { evidence: { uncategorized_text: 'winning_evidence' }, submit: false });
    assert.equal((await sb.stripe.disputes.update(staged.id, { submit: true })).status, 'won');
  });

  test('an unknown dispute is a 404 naming it; an unknown evidence field a 400 naming the param', async () => {
    await assert.rejects(sb.stripe.disputes.retrieve('dp_missing'), (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.statusCode, 404);
      assert.match(err.message, /No such dispute: 'dp_missing'/);
      return true;
    });
    const dispute = await disputeOf(await pay('pm_card_createDispute'));
    await assert.rejects(
      sb.stripe.disputes.update(dispute.id, { evidence: { favourite_colour: 'blue' } as Stripe.DisputeUpdateParams.Evidence }),
      (err: unknown) => {
        assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
        assert.match(err.param ?? '', /evidence\[favourite_colour\]/);
        return true;
      },
    );
  });
});
