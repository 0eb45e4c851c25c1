// Stripe's dispute fee (15.00 USD) through the official SDK: the withdrawal's balance
// transaction takes it with the disputed amount (charge.dispute.funds_withdrawn), and the
// reinstatement of a won dispute gives it back (charge.dispute.funds_reinstated).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Stripe from 'stripe';
import { startSandbox, type Sandbox } from './harness.ts';

describe('the dispute fee on a dispute’s balance transactions', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb?.close();
  });

  const disputed = async (currency: string, amount: number) => {
    const customer = await sb.stripe.customers.create({});
    const pi = await sb.stripe.paymentIntents.create({
      amount,
      currency,
      allowed_payment_method_types: ['card'],
      customer: customer.id,
      payment_method: 'pm_card_createDispute',
      confirm: true,
      off_session: true,
    });
    const list = await sb.stripe.disputes.list({ payment_intent: pi.id });
    assert.equal(list.data.length, 1);
    return list.data[0]!;
  };
  const money = (t: Stripe.BalanceTransaction) => ({ amount: t.amount, fee: t.fee, net: t.net, fee_details: t.fee_details });
  /** The dispute as the event of `type` about it carried it. */
  const inEvent = async (type: string, id: string) => {
    for await (const e of sb.stripe.events.list({ type, limit: 100 })) {
      const dispute = e.data.object as Stripe.Dispute;
      if (dispute.id === id) return dispute;
    }
    assert.fail(`no ${type} for ${id}`);
  };

  test('usd: the withdrawal takes 15.00 with the amount; winning gives both back', async () => {
    const dispute = await disputed('usd', 2500);
    const fee = { amount: 1500, application: null, currency: 'usd', description: 'Dispute fee', type: 'stripe_fee' };
    const withdrawal = { amount: -2500, fee: 1500, net: -4000, fee_details: [fee] };
    assert.deepEqual(dispute.balance_transactions.map(money), [withdrawal]);
    assert.deepEqual((await inEvent('charge.dispute.funds_withdrawn', dispute.id)).balance_transactions.map(money), [withdrawal]);

    const won = await sb.stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: 'winning_evidence' } });
    assert.equal(won.status, 'won');
    const reinstated = { amount: 2500, fee: -1500, net: 4000, fee_details: [{ ...fee, amount: -1500 }] };
    assert.deepEqual(won.balance_transactions.map(money), [withdrawal, reinstated]);
    assert.deepEqual((await inEvent('charge.dispute.funds_reinstated', dispute.id)).balance_transactions.map(money), [
      withdrawal,
      reinstated,
    ]);
    // Lost, the fee stays taken.
    const lost = await sb.stripe.disputes.close((await disputed('usd', 1000)).id);
    assert.deepEqual(lost.balance_transactions.map(money), [{ amount: -1000, fee: 1500, net: -2500, fee_details: [fee] }]);
  });

  test('a currency whose fee is not modelled: the amount alone', async () => {
    const dispute = await disputed('eur', 2000);
    assert.deepEqual(dispute.balance_transactions.map(money), [{ amount: -2000, fee: 0, net: -2000, fee_details: [] }]);
  });
});
