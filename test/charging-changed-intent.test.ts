// Invoicing's guard against a PaymentIntent changed behind its back, against the
// real gateway sandbox process: anyone with the account's keys can change an
// unconfirmed PaymentIntent's amount or currency (as on Stripe), so charging
// reports what the succeeded intent received (gateway-calls.ts `paymentOf`),
// and that payment does not pay the invoice (payment-match.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chargeGateway } from '../services/invoicing/src/charging/gateway-calls.ts';
import { paysInvoice } from '../services/invoicing/src/charging/payment-match.ts';
import { chargingWorld, customerOf, putCard, type ChargingWorld } from './charging-harness.ts';

describe('a PaymentIntent changed before charging confirms it', () => {
  let w: ChargingWorld;
  before(async () => {
    w = await chargingWorld('changedpi');
  });
  after(async () => {
    await w?.close();
  });

  test('its amount or currency changed: charging reports what it received, which does not pay the invoice', async () => {
    const gateway = chargeGateway(w.sdk);
    const cases = [
      { account: 'acct-amount', change: { amount: 50 }, received: [50, 'usd'], reason: 'amount_mismatch' },
      { account: 'acct-currency', change: { currency: 'eur' }, received: [1000, 'eur'], reason: 'currency_mismatch' },
    ] as const;
    for (const c of cases) {
      const paymentMethodId = await putCard(w, c.account, '4242424242424242');
      const customerId = (await customerOf(w.db.pool, c.account))!;
      const invoice = { invoiceId: `inv-${c.account}`, accountId: c.account, number: `V-${c.account}`, idempotencyKey: `key-${c.account}` };
      const created = await gateway.createPaymentIntent({ ...invoice, amount: 1000, currency: 'USD', customerId });
      assert.ok('id' in created, JSON.stringify(created));
      await w.sdk.paymentIntents.update(created.id, c.change);

      const answer = await gateway.confirm({ ...invoice, attempt: 1, paymentIntentId: created.id, paymentMethodId });
      assert.equal(answer.kind, 'succeeded', JSON.stringify(answer));
      assert.ok(answer.kind === 'succeeded');
      assert.deepEqual([answer.payment.amount, answer.payment.currency], c.received);
      const recorded = { total: '10.00', currency: 'USD', paymentIntentId: created.id };
      assert.deepEqual(paysInvoice(answer.payment, recorded), { pays: false, reason: c.reason });
      // A later attempt learns of the success from the gateway's unexpected_state: the same report.
      const again = await gateway.confirm({ ...invoice, attempt: 2, paymentIntentId: created.id, paymentMethodId });
      assert.ok(again.kind === 'succeeded' && again.earlier === true, JSON.stringify(again));
      assert.deepEqual([again.payment.amount, again.payment.currency], c.received);
    }
  });
});
