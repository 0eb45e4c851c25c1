// A card charged back as fraud was blocked by its payment method id alone, and only once the dispute
// matched its invoice. The same stolen card typed in again on the card form is a new payment method,
// so it was charged at once (another chargeback, another fee); and a fraud withdrawal on a released
// stray's old PaymentIntent, one for more than the invoice's total, or one arriving before the
// payment's own event, blocked nothing. Now the block is decided from the dispute alone: its charge
// read back from the gateway (payment method and `payment_method_details.card.fingerprint`), for any
// PaymentIntent a charge row of ours holds or held; cc-forms stores each card's fingerprint, and a card
// on file is blocked when its payment method or its fingerprint is. The real sandbox (the dispute test
// card 4000000000000259: its charges are disputed as `fraudulent` at once) through the official SDK,
// cc-forms' own gateway client and store, invoicing's pass and event handler in process; real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Stripe from 'stripe';
import { gatewayClient, sandboxKeys } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import { sdkCardGateway } from '../services/cc-forms/src/cards/gateway.ts';
import { saveCard } from '../services/cc-forms/src/cards/store.ts';
import { chargePass } from '../services/invoicing/src/charging/charger.ts';
import { disputeGateway } from '../services/invoicing/src/charging/dispute-gateway.ts';
import { chargeGateway } from '../services/invoicing/src/charging/gateway-calls.ts';
import { handleGatewayEvent } from '../services/invoicing/src/charging/webhooks.ts';
import { chargingWorld, insertInvoice, type ChargingWorld } from './charging-harness.ts';

const DISPUTE_CARD = '4000000000000259';
const PLAIN_CARD = '4242424242424242';
// One number a test: a card blocked by fingerprint is blocked for every account that types it in.
const CARDS = {
  fm: '5555555555554444',
  fs: '2223003122003222',
  fe: '5200828282828210',
  fn: '4000056655665556',
  fr: '378282246310005',
  fu: '6011111111111117',
};

describe('a card charged back as fraud is blocked by its fingerprint, decided from the dispute alone (real sandbox)', () => {
  let w: ChargingWorld;
  const log = memoryLogger();
  const pass = () => chargePass({ pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [60], log });
  const handle = (event: Stripe.Event, disputes = disputeGateway(w.sdk)) =>
    handleGatewayEvent({ pool: w.db.pool, log, disputes }, event as unknown as Parameters<typeof handleGatewayEvent>[1]);

  /** The card `number` typed into cc-forms' form for `account`: a new payment method, saved as cc-forms saves it (its fingerprint too). */
  const typeCard = async (account: string, number: string) => {
    const { rows } = await w.db.pool.query<{ customer_id: string }>('select customer_id from cc_forms.customers where account_id = $1', [
      account,
    ]);
    let customerId = rows[0]?.customer_id;
    if (!customerId) {
      customerId = (await w.sdk.customers.create({ metadata: { account_id: account } })).id;
      await w.db.pool.query('insert into cc_forms.customers (account_id, customer_id) values ($1, $2)', [account, customerId]);
    }
    const browser = gatewayClient({ url: new URL(w.sandbox.url), secretKey: (await sandboxKeys(w.db.pool)).publishableKey });
    const typed = await browser.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
    await w.sdk.paymentMethods.attach(typed.id, { customer: customerId });
    const pm = await sdkCardGateway(w.sdk).paymentMethod(typed.id);
    assert.ok(pm?.fingerprint, "cc-forms' gateway client reads the card's fingerprint");
    const card = { ...pm, customerId, paymentMethodId: pm.id, setupIntentId: `seti_${pm.id}` };
    await saveCard(w.db.pool, account, card);
    return { id: pm.id, fingerprint: pm.fingerprint };
  };
  const heldIntent = async (invoiceId: string) =>
    (
      await w.db.pool.query<{ pi: string | null }>('select payment_intent_id as pi from invoicing.charges where invoice_id = $1', [
        invoiceId,
      ])
    ).rows[0]?.pi ?? null;
  const row = async (invoiceId: string) =>
    (
      await w.db.pool.query<{ status: string; code: string | null; pi: string | null }>(
        `select i.status, c.last_error_code as code, c.payment_intent_id as pi
           from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id where i.id = $1`,
        [invoiceId],
      )
    ).rows[0];
  /** The cardholder's bank disputes the PaymentIntent's charge now, for `reason` (the sandbox's test helper). */
  const disputeNow = async (pi: string, reason = 'fraudulent') => {
    const intent = await w.sdk.paymentIntents.retrieve(pi);
    const charge = typeof intent.latest_charge === 'string' ? intent.latest_charge : intent.latest_charge!.id;
    await w.sdk.rawRequest('POST', `/v1/test_helpers/charges/${charge}/dispute`, { reason });
  };
  /** The dispute of the PaymentIntent's charge, and the sandbox's own funds_withdrawn event of it. */
  const disputeOf = async (pi: string, type = 'charge.dispute.funds_withdrawn') => {
    const dispute = (await w.sdk.disputes.list({ payment_intent: pi })).data[0];
    assert.ok(dispute, `${pi} disputed`);
    const events = await w.sdk.events.list({ type, limit: 100 });
    const event = events.data.find((e) => (e.data.object as Stripe.Dispute).id === dispute.id);
    assert.ok(event, `the sandbox's ${type} of ${dispute.id}`);
    return { dispute, event };
  };
  const blocks = async (disputeId: string) =>
    (
      await w.db.pool.query<{ payment_method_id: string; fingerprint: string | null }>(
        'select payment_method_id, fingerprint from invoicing.blocked_payment_methods where dispute_id = $1',
        [disputeId],
      )
    ).rows;
  /** A PaymentIntent for the invoice made and confirmed at the gateway with `pm` (as a pass's attempt is), its success not recorded. */
  const paidAtGateway = async (invoiceId: string, customer: string, pm: string, amount: number) =>
    w.sdk.paymentIntents.create({
      amount,
      currency: 'usd',
      customer,
      payment_method: pm,
      confirm: true,
      off_session: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: { invoice_id: invoiceId },
    });
  const customerOf = async (account: string) =>
    (await w.db.pool.query<{ c: string }>('select customer_id as c from cc_forms.customers where account_id = $1', [account])).rows[0]!.c;

  before(async () => {
    w = await chargingWorld('fraud_fingerprint');
  });
  after(() => w?.close());

  test('the same card number saved again as a new payment method after a fraud chargeback is not charged: past due card_reported_fraudulent', async () => {
    const stolen = await typeCard('acct-fp', DISPUTE_CARD);
    await insertInvoice(w.db.pool, { id: 'fp-1', account: 'acct-fp', total: '25.00' });
    await pass();
    assert.equal((await row('fp-1'))?.status, 'paid');
    const { dispute, event } = await disputeOf((await heldIntent('fp-1'))!);
    assert.equal(dispute.reason, 'fraudulent');
    const outcome = await handle(event);
    assert.equal(outcome.outcome, 'dispute_withdrawn');
    assert.deepEqual(
      (await blocks(dispute.id)).map((b) => b.payment_method_id),
      [stolen.id],
    );

    // The customer types the same card in again: another payment method, the same fingerprint.
    const again = await typeCard('acct-fp', DISPUTE_CARD);
    assert.notEqual(again.id, stolen.id);
    assert.equal(again.fingerprint, stolen.fingerprint);
    await insertInvoice(w.db.pool, { id: 'fp-2', account: 'acct-fp', total: '10.00', period: '2026-11' });
    await pass();
    assert.deepEqual(await row('fp-2'), { status: 'past_due', code: 'card_reported_fraudulent', pi: null });
    const intents = await w.sdk.paymentIntents.list({ customer: await customerOf('acct-fp'), limit: 100 });
    assert.equal(intents.data.filter((pi) => pi.metadata.invoice_id === 'fp-2').length, 0, 'nothing sent to the gateway for it');
    assert.deepEqual(await blocks(dispute.id), [{ payment_method_id: stolen.id, fingerprint: stolen.fingerprint }], 'blocked by both');

    // Another card (another number) is charged at once.
    await typeCard('acct-fp', PLAIN_CARD);
    await pass();
    assert.equal((await row('fp-2'))?.status, 'paid');
  });

  test('a fraud withdrawal the invoice takes for more than its total (stray more_than_total) still blocks the card, by the charge the gateway reports', async () => {
    const card = await typeCard('acct-fm', CARDS.fm);
    await insertInvoice(w.db.pool, { id: 'fm-1', account: 'acct-fm', total: '20.00' });
    await pass();
    await disputeNow((await heldIntent('fm-1'))!);
    const { dispute, event } = await disputeOf((await heldIntent('fm-1'))!);
    // The body says more than the invoice's total: not recorded on it. The card is the gateway's word.
    const body = event.data.object as Stripe.Dispute;
    const more = { ...event, data: { ...event.data, object: { ...body, amount: 2001 } } };
    const outcome = await handle(more as Stripe.Event);
    assert.deepEqual([outcome.outcome, outcome.reason], ['stray', 'more_than_total']);
    assert.deepEqual(await blocks(dispute.id), [{ payment_method_id: card.id, fingerprint: card.fingerprint }]);
    await insertInvoice(w.db.pool, { id: 'fm-2', account: 'acct-fm', total: '5.00', period: '2026-11' });
    await pass();
    assert.deepEqual(await row('fm-2'), { status: 'past_due', code: 'card_reported_fraudulent', pi: null });
  });

  test("a fraud withdrawal on a released stray's old PaymentIntent blocks its card: the invoice is not charged to it again", async () => {
    const card = await typeCard('acct-fs', CARDS.fs);
    await insertInvoice(w.db.pool, { id: 'fs-1', account: 'acct-fs', total: '30.00' });
    // A stray: 0.50 charged on the invoice's PaymentIntent, held on its row; then let go (given back),
    // the row's PaymentIntent cleared for a new one, as save-payment.ts releaseRefundedStray does.
    const stray = await paidAtGateway('fs-1', await customerOf('acct-fs'), card.id, 50);
    await w.db.pool.query(
      `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, last_payment_method_id, last_attempt_at, next_attempt_at, last_error_code)
       values ('fs-1', $1, 'scheduled', 1, $2, now(), now() + interval '1 day', 'stray_payment')`,
      [stray.id, card.id],
    );
    await w.db.pool.query(
      `update invoicing.charges set payment_intent_id = null, last_error_code = null, next_attempt_at = now() where invoice_id = 'fs-1'`,
    );
    await disputeNow(stray.id);
    const { dispute, event } = await disputeOf(stray.id);
    const outcome = await handle(event);
    assert.deepEqual([outcome.outcome, outcome.reason], ['stray', 'unknown_payment_intent'], "not the invoice's any more");
    assert.deepEqual(await blocks(dispute.id), [{ payment_method_id: card.id, fingerprint: card.fingerprint }]);
    await pass();
    assert.deepEqual(await row('fs-1'), { status: 'past_due', code: 'card_reported_fraudulent', pi: null });
  });

  test('a fraud withdrawal arriving before the payment is recorded (before_payment, delivered again) blocks the card at once', async () => {
    const card = await typeCard('acct-fe', CARDS.fe);
    await insertInvoice(w.db.pool, { id: 'fe-1', account: 'acct-fe', total: '15.00' });
    // The pass's confirm went through at the gateway; its answer not recorded yet (the row's attempt pending).
    const pi = await paidAtGateway('fe-1', await customerOf('acct-fe'), card.id, 1500);
    await w.db.pool.query(
      `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, pending_payment_method_id, next_attempt_at)
       values ('fe-1', $1, 'scheduled', 0, $2, now() + interval '1 day')`,
      [pi.id, card.id],
    );
    await disputeNow(pi.id);
    const { dispute, event } = await disputeOf(pi.id);
    assert.equal((await handle(event)).outcome, 'before_payment');
    assert.deepEqual(await blocks(dispute.id), [{ payment_method_id: card.id, fingerprint: card.fingerprint }]);
    const { rows } = await w.db.pool.query('select 1 from invoicing.gateway_events where id = $1', [event.id]);
    assert.equal(rows.length, 0, 'not recorded: delivered again once the payment is in');
  });

  test('a dispute for another reason, a reinstatement, and a PaymentIntent not ours block nothing', async () => {
    const card = await typeCard('acct-fn', CARDS.fn);
    await insertInvoice(w.db.pool, { id: 'fn-1', account: 'acct-fn', total: '12.00' });
    await pass();
    const pi = (await heldIntent('fn-1'))!;
    await disputeNow(pi, 'product_not_received');
    const { dispute, event } = await disputeOf(pi);
    assert.equal((await handle(event)).outcome, 'dispute_withdrawn');
    assert.deepEqual(await blocks(dispute.id), []);

    // A fraudulent one won: its reinstatement blocks nothing of itself (the withdrawal, if any, did).
    const fraud = await typeCard('acct-fr', CARDS.fr);
    const other = await paidAtGateway('not-an-invoice', await customerOf('acct-fr'), fraud.id, 700);
    await disputeNow(other.id);
    const notOurs = await disputeOf(other.id);
    const stray = await handle(notOurs.event);
    assert.deepEqual([stray.outcome, stray.reason], ['stray', 'unknown_payment_intent']);
    await w.sdk.disputes.update(notOurs.dispute.id, { evidence: { uncategorized_text: 'winning_evidence' } });
    const reinstated = await disputeOf(other.id, 'charge.dispute.funds_reinstated');
    await handle(reinstated.event);
    assert.deepEqual(await blocks(notOurs.dispute.id), []);
    await insertInvoice(w.db.pool, { id: 'fn-2', account: 'acct-fn', total: '3.00', period: '2026-11' });
    await pass();
    assert.equal((await row('fn-2'))?.status, 'paid', `${card.id} charged again`);
  });

  test('the gateway refusing the read for good: the chargeback is recorded all the same (200), and the card our row says paid is blocked, fingerprint too', async () => {
    const card = await typeCard('acct-fu', CARDS.fu);
    await insertInvoice(w.db.pool, { id: 'fu-1', account: 'acct-fu', total: '9.00' });
    await pass();
    await disputeNow((await heldIntent('fu-1'))!);
    const { dispute, event } = await disputeOf((await heldIntent('fu-1'))!);
    // A restricted key without Disputes read: every read is refused.
    const refused = { disputedCharge: async () => ({ error: 'permission_error (HTTP 403)' }) };
    const outcome = await handle(event, refused);
    assert.equal(outcome.outcome, 'dispute_withdrawn', JSON.stringify(outcome));
    assert.equal(outcome.card_blocked, card.id);
    const recorded = await w.db.pool.query('select amount::text from invoicing.invoice_disputes where dispute_id = $1', [dispute.id]);
    assert.deepEqual(recorded.rows, [{ amount: '9.00' }]);
    assert.ok(
      log.lines.some(
        (l) =>
          l.includes('event=charge.card_block_unread') &&
          l.includes(`dispute_id=${dispute.id}`) &&
          l.includes('code="permission_error (HTTP 403)"') &&
          l.includes(`blocked=${card.id} by_fingerprint=true`),
      ),
      log.lines.join('\n'),
    );
    assert.deepEqual(await blocks(dispute.id), [{ payment_method_id: card.id, fingerprint: card.fingerprint }]);
    // The same number typed in again is blocked too (our records gave its fingerprint); nothing is sent for the next invoice.
    await typeCard('acct-fu', CARDS.fu);
    await insertInvoice(w.db.pool, { id: 'fu-2', account: 'acct-fu', total: '4.00', period: '2026-11' });
    await pass();
    assert.deepEqual(await row('fu-2'), { status: 'past_due', code: 'card_reported_fraudulent', pi: null });
  });
});
