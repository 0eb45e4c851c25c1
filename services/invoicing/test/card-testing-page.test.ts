// The invoice page during the hour after card testing canceled the PaymentIntent
// its cardholder was asked about (card-testing.ts, request-canceled.ts), against
// the gateway sandbox. It said "Not paid yet: we charge your card on file
// shortly", as if nothing had happened, for a request we canceled (its link
// dead). It says so plainly now, and when the new request comes; once it has
// come, the page is the bank's ask again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Invoice } from '@vault/contracts';
import { memoryLogger } from '@vault/runtime';
import { chargePass } from '../src/charging/charger.ts';
import { catchUpEvents, gatewayEvents } from '../src/charging/event-catch-up.ts';
import { chargeGateway } from '../src/charging/gateway-calls.ts';
import { readPaymentStates } from '../src/charging/payment-state.ts';
import { paymentWords } from '../src/web/pages/payment.ts';
import { chargingWorld, confirmWithNewCard, insertInvoice, putCard, type ChargingWorld } from '../../../test/charging-harness.ts';

const ALWAYS_3DS = '4000002760003184';
const STOLEN = ['4000000000000002', '4000000000009995'];

let w: ChargingWorld;
before(async () => {
  w = await chargingWorld('card_testing_page');
});
after(async () => {
  await w?.close();
});

const piOf = async (id: string) =>
  (await w.db.pool.query<{ pi: string | null }>('select payment_intent_id as pi from invoicing.charges where invoice_id = $1', [id]))
    .rows[0]!.pi;

/** What the invoice page says of its payment, as the signed-in customer sees it. */
async function page(id: string) {
  const { rows } = await w.db.pool.query<Pick<Invoice, 'id' | 'status' | 'total' | 'currency' | 'amount_refunded'>>(
    'select id, status, total::text, currency, amount_refunded::text from invoicing.invoices where id = $1',
    [id],
  );
  const state = (await readPaymentStates(w.db.pool, rows)).get(id)!;
  return { state, words: paymentWords(rows[0] as unknown as Invoice, state).toString() };
}

describe('the invoice page after card testing canceled its payment request', () => {
  test('says the request was canceled for safety and when the new one comes, not "shortly"; then the new ask', async () => {
    await putCard(w, 'acct-pg', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-pg', account: 'acct-pg', total: '52.58' });
    const deps = { pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [259_200, 432_000], log: memoryLogger() };
    await chargePass(deps);
    assert.equal((await page('inv-pg')).state.kind, 'action_required');

    const pi = (await piOf('inv-pg'))!;
    const secret = (await w.sdk.paymentIntents.retrieve(pi)).client_secret!;
    for (const number of STOLEN) {
      assert.equal((await confirmWithNewCard(w, pi, secret, number)).status, 402);
    }
    await catchUpEvents({
      pool: w.db.pool,
      log: memoryLogger(),
      events: gatewayEvents(w.sdk),
      cardTesting: { limit: 1, gateway: chargeGateway(w.sdk) },
    });
    assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'canceled');
    const retryAt = (
      await w.db.pool.query<{ retry_at: Date }>('select retry_at from invoicing.revoked_payment_intents where payment_intent_id = $1', [pi])
    ).rows[0]!.retry_at;

    const during = await page('inv-pg');
    assert.equal(during.state.kind, 'pending');
    assert.equal(during.state.kind === 'pending' && during.state.canceledUntil?.getTime(), retryAt.getTime());
    assert.doesNotMatch(during.words, /shortly/);
    assert.match(during.words, /Not paid yet\. We canceled the payment request for this invoice to protect you: other cards were tried/);
    const hhmm = retryAt.toISOString().slice(11, 16);
    assert.match(
      during.words,
      new RegExp(`A new payment request comes after <time datetime="${retryAt.toISOString()}">\\w{3} \\d+, \\d{4}, ${hhmm} UTC</time>`),
    );

    // The hour has passed: the card on file is charged on a new PaymentIntent, the bank asks again.
    await chargePass({ ...deps, now: () => new Date(retryAt.getTime() + 1000) });
    const next = await page('inv-pg');
    assert.equal(next.state.kind, 'action_required');
    assert.doesNotMatch(next.words, /canceled/);
  });
});
