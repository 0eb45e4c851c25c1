// Card testing on a past-due invoice's PaymentIntent (card-testing.ts): its
// card declined at every try, the invoice past due, its PaymentIntent still
// confirmable with the client secret. Other cards past CARD_ATTEMPTS_PER_HOUR
// cancel it; the invoice must stay payable: once the hour has passed the card
// on file is charged on a new PaymentIntent, once. It used to keep no
// PaymentIntent and wait for a new card for ever, its account suspended.
// Against the gateway sandbox, the declines found by the catch-up.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gatewayClient, sandboxKeys } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import { chargePass } from '../src/charging/charger.ts';
import { catchUpEvents, gatewayEvents } from '../src/charging/event-catch-up.ts';
import { chargeGateway } from '../src/charging/gateway-calls.ts';
import { readPaymentStates } from '../src/charging/payment-state.ts';
import { noticesOf } from '../src/notices/outbox.ts';
import { chargingWorld, customerOf, gatewayRecord, insertInvoice, putCard, type ChargingWorld } from '../../../test/charging-harness.ts';

/** Attaches; every charge of it is declined. */
const DECLINED_ON_CHARGE = '4000000000000341';
const STOLEN = ['4000000000000002', '4000000000009995'];

let w: ChargingWorld;
before(async () => {
  w = await chargingWorld('card_testing_past_due');
});
after(async () => {
  await w?.close();
});

const rowOf = async (id: string) =>
  (
    await w.db.pool.query<{ state: string; payment_intent_id: string | null; next_attempt_at: Date | null; attempts: number }>(
      'select state, payment_intent_id, next_attempt_at, attempts from invoicing.charges where invoice_id = $1',
      [id],
    )
  ).rows[0]!;
const statusOf = async (id: string) =>
  (await w.db.pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [id])).rows[0]!.status;

/** A tester's script: a new card (publishable key), then a confirm with the client secret. */
async function confirmWithNewCard(paymentIntentId: string, clientSecret: string, number: string): Promise<number> {
  const { publishableKey } = await sandboxKeys(w.db.pool);
  const browser = gatewayClient({ url: new URL(w.sandbox.url), secretKey: publishableKey });
  const pm = await browser.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
  const res = await fetch(`${w.sandbox.url}/v1/payment_intents/${paymentIntentId}/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key: publishableKey, client_secret: clientSecret, payment_method: pm.id }),
  });
  return res.status;
}

describe('card testing on a past-due invoice’s PaymentIntent', () => {
  test('revoked, the invoice is charged again on a new PaymentIntent once retry_at has passed: not before, once, the old one canceled', async () => {
    await putCard(w, 'acct-pd', DECLINED_ON_CHARGE);
    await insertInvoice(w.db.pool, { id: 'inv-pd', account: 'acct-pd', total: '52.58' });
    // No retry left: the first decline makes the invoice past due.
    const deps = { pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [] as number[], log: memoryLogger() };
    await chargePass(deps);
    assert.equal(await statusOf('inv-pd'), 'past_due');
    const pi = (await rowOf('inv-pd')).payment_intent_id!;
    assert.equal((await rowOf('inv-pd')).state, 'past_due');
    const secret = (await w.sdk.paymentIntents.retrieve(pi)).client_secret!;
    const told = (await noticesOf(w.db.pool, 'acct-pd')).map((n) => n.id);

    for (const number of STOLEN) assert.equal(await confirmWithNewCard(pi, secret, number), 402);
    const log = memoryLogger();
    await catchUpEvents({ pool: w.db.pool, log, events: gatewayEvents(w.sdk), cardTesting: { limit: 1, gateway: chargeGateway(w.sdk) } });
    assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'canceled');
    const { rows } = await w.db.pool.query<{ retry_at: Date }>(
      'select retry_at from invoicing.revoked_payment_intents where payment_intent_id = $1 and settled_at is not null',
      [pi],
    );
    const retryAt = rows[0]!.retry_at;

    // Let go, and charged again at retry_at: the invoice stays past due (its account suspended) meanwhile.
    const row = await rowOf('inv-pd');
    assert.deepEqual([row.state, row.payment_intent_id, row.next_attempt_at?.getTime()], ['scheduled', null, retryAt.getTime()]);
    assert.equal(await statusOf('inv-pd'), 'past_due');
    assert.match(
      log.lines.join('\n'),
      new RegExp(`event=charge.payment_intent_revoked invoice_id=inv-pd payment_intent=${pi} .*charge_state=scheduled`),
    );
    // The invoice page says when it is tried again (not "we will not try it again").
    const invoice = { id: 'inv-pd', status: 'past_due' as const, total: '52.58', currency: 'USD', amount_refunded: '0.00' };
    const page = (await readPaymentStates(w.db.pool, [invoice])).get('inv-pd')!;
    assert.equal(page.kind, 'declined');
    assert.equal(page.kind === 'declined' && page.nextTryAt.getTime(), retryAt.getTime());
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-pd')).map((n) => n.id),
      told,
      'nothing told for the testers',
    );

    // Before retry_at: no attempt.
    const customer = await customerOf(w.db.pool, 'acct-pd');
    await chargePass({ ...deps, now: () => new Date(retryAt.getTime() - 1000) });
    assert.equal((await gatewayRecord(w.sdk, customer, 'inv-pd')).intents, 1);

    // After it: one attempt of the card on file, on a new PaymentIntent; declined, the invoice is past due again.
    const later = { ...deps, now: () => new Date(retryAt.getTime() + 1000) };
    await chargePass(later);
    const renewed = await rowOf('inv-pd');
    assert.ok(renewed.payment_intent_id && renewed.payment_intent_id !== pi, String(renewed.payment_intent_id));
    assert.deepEqual([renewed.state, renewed.attempts], ['past_due', 2]);
    assert.equal((await w.sdk.paymentIntents.retrieve(renewed.payment_intent_id)).status, 'requires_payment_method');
    assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'canceled', 'the old one stays canceled');
    await chargePass(later);
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-pd'), { intents: 2, succeeded: 0, failed: 2 + STOLEN.length });
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-pd')).map((n) => n.id),
      [...told, 'invoice.payment_failed:inv-pd:2'],
      'the new attempt’s decline is told; the invoice was past due already',
    );
  });
});
