// What the charger reads back from the gateway, through the real SDK and the real sandbox: a
// confirm's success carries what the PaymentIntent received (checked against the invoice before it
// pays: services/invoicing/src/charging/save-payment.ts), and a PaymentIntent read back carries its
// charge's refunds (recorded when a payment is found late: a refund may have come before it).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import { chargePass } from '../services/invoicing/src/charging/charger.ts';
import { chargeGateway } from '../services/invoicing/src/charging/gateway-calls.ts';
import { chargingWorld, insertInvoice, putCard, statuses, type ChargingWorld } from './charging-harness.ts';

describe('what the charger reads back from the gateway sandbox', () => {
  let w: ChargingWorld;

  before(async () => {
    w = await chargingWorld('charge_reports');
  });
  after(async () => {
    await w?.close();
  });

  test('a success answers what was received; a PaymentIntent read back carries its charge as refunds left it', async () => {
    await insertInvoice(w.db.pool, { id: 'inv-reports-1', account: 'acct-reports', total: '12.34' });
    await putCard(w, 'acct-reports', '4242424242424242');
    const gateway = chargeGateway(w.sdk);
    assert.equal((await chargePass({ pool: w.db.pool, gateway, retrySchedule: [60], log: memoryLogger() })).paid, 1);
    assert.equal((await statuses(w.db.pool))['inv-reports-1'], 'paid');
    const { rows } = await w.db.pool.query<{ payment_intent_id: string; idempotency_key: string; last_payment_method_id: string }>(
      `select payment_intent_id, idempotency_key, last_payment_method_id from invoicing.charges where invoice_id = 'inv-reports-1'`,
    );
    const row = rows[0]!;

    // The attempt's confirm again, under its key: the gateway's first answer, with what it received.
    const again = await gateway.confirm({
      invoiceId: 'inv-reports-1',
      attempt: 1,
      paymentIntentId: row.payment_intent_id,
      paymentMethodId: row.last_payment_method_id,
      idempotencyKey: row.idempotency_key,
    });
    assert.deepEqual(again, { kind: 'succeeded', payment: { id: row.payment_intent_id, amount: 1234, currency: 'usd' } });

    await w.sdk.refunds.create({ payment_intent: row.payment_intent_id, amount: 500 });
    const read = await gateway.retrievePaymentIntent(row.payment_intent_id);
    assert.ok(!('error' in read), JSON.stringify(read));
    assert.equal(read.status, 'succeeded');
    assert.deepEqual({ ...read.charge, id: undefined }, { id: undefined, amount_refunded: 500, currency: 'usd' });
    assert.match(read.charge?.id ?? '', /^ch_/);
  });
});
