// What a 3-D Secure request made again after card testing tells (tell.ts, asked-again.ts), against the
// gateway sandbox. Past the round's window, the request is past due as it is made: it used to send two
// emails at once ("asked again", then "past due"), and the platform an action_required for a request
// already past due. Within the window, the "asked again" notice names the PaymentIntent it replaces:
// when another was burnt while its attempt was in flight, it named the previous ask's instead. When the
// one replaced was a stray payment given back after card testing burnt the request asked about, it said
// `canceled`, and the email lost its card-testing warning (its reason was the last one's alone).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import { chargePass } from '../src/charging/charger.ts';
import { type ChargeGateway, chargeGateway } from '../src/charging/gateway-calls.ts';
import { emailFor } from '../src/email/messages.ts';
import { noticesOf } from '../src/notices/outbox.ts';
import { authenticate, chargingWorld, insertInvoice, invoiceCharge, putCard, type ChargingWorld } from '../../../test/charging-harness.ts';
import { ALWAYS_3DS, burnIntent, DAY, RETRY_SCHEDULE } from './card-testing-rounds.ts';

let w: ChargingWorld;
before(async () => {
  w = await chargingWorld('card_testing_asked_late');
});
after(async () => {
  await w?.close();
});

const rowOf = async (id: string) =>
  (
    await w.db.pool.query<{ state: string; payment_intent_id: string | null; next_attempt_at: Date | null }>(
      'select state, payment_intent_id, next_attempt_at from invoicing.charges where invoice_id = $1',
      [id],
    )
  ).rows[0]!;
const statusOf = async (id: string) =>
  (await w.db.pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [id])).rows[0]!.status;
const emailsOf = async (account: string) =>
  (
    await w.db.pool.query<{ notice_id: string }>(
      'select notice_id from invoicing.email_deliveries where account_id = $1 order by notice_id',
      [account],
    )
  ).rows.map((r) => r.notice_id);

const passAt = (at: number, gateway: ChargeGateway = chargeGateway(w.sdk)) =>
  chargePass({ pool: w.db.pool, gateway, retrySchedule: RETRY_SCHEDULE, log: memoryLogger(), now: () => new Date(at) });

describe('a 3-D Secure request made again after card testing', () => {
  test('past the round’s window: one message, the past-due one (naming the PaymentIntent that waits); no action_required for it', async () => {
    await putCard(w, 'acct-late', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-late', account: 'acct-late', total: '52.58' });
    const t0 = Date.now();
    await passAt(t0);
    assert.equal(await statusOf('inv-late'), 'action_required');
    const first = (await rowOf('inv-late')).payment_intent_id!;
    await burnIntent(w, first);

    // Day 8 and a second: the card on file is charged on a new PaymentIntent and the bank asks, past the window.
    await passAt(t0 + 8 * DAY + 1000);
    const row = await rowOf('inv-late');
    assert.ok(row.state === 'action_required' && row.payment_intent_id && row.payment_intent_id !== first);
    assert.equal(await statusOf('inv-late'), 'past_due');
    const told = await noticesOf(w.db.pool, 'acct-late');
    assert.deepEqual(
      told.map((n) => n.id),
      ['invoice.action_required:inv-late:1', 'invoice.past_due:inv-late'],
    );
    const pastDue = told[1]!;
    assert.equal(pastDue.data.reason, 'authentication_required');
    assert.equal(pastDue.data.payment_intent_id, row.payment_intent_id, 'the platform learns the request that waits');
    assert.deepEqual(await emailsOf('acct-late'), ['invoice.action_required:inv-late:1', 'invoice.past_due:inv-late']);
    assert.match(emailFor(pastDue, { invoicingUrl: 'https://billing.example.test' })!.text, /past due: your bank asked you to confirm/);

    // Burnt once more while past due: asked again an hour on, still past its window, told nothing.
    await burnIntent(w, row.payment_intent_id);
    await passAt(t0 + 9 * DAY);
    const again = await rowOf('inv-late');
    assert.ok(again.state === 'action_required' && again.payment_intent_id !== row.payment_intent_id);
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-late')).map((n) => n.id),
      ['invoice.action_required:inv-late:1', 'invoice.past_due:inv-late'],
    );
    assert.equal((await emailsOf('acct-late')).length, 2);
  });

  test('within the window, after a PaymentIntent burnt while its attempt was in flight: it names that one, not the previous ask’s', async () => {
    await putCard(w, 'acct-flight', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-flight', account: 'acct-flight', total: '52.58' });
    const t0 = Date.now();
    await passAt(t0);
    const asked = (await rowOf('inv-flight')).payment_intent_id!;
    await burnIntent(w, asked);

    // Day 1: the new PaymentIntent is burnt as the charger confirms it (its attempt in flight): the
    // confirm is refused as canceled, the attempt spent, the next one 5 days on.
    const real = chargeGateway(w.sdk);
    let burnt: string | undefined;
    const burning: ChargeGateway = {
      ...real,
      confirm: async (c) => {
        burnt ??= c.paymentIntentId;
        if (burnt === c.paymentIntentId) await burnIntent(w, c.paymentIntentId);
        return real.confirm(c);
      },
    };
    await passAt(t0 + DAY, burning);
    assert.ok(burnt && burnt !== asked);
    const spent = await rowOf('inv-flight');
    assert.deepEqual([spent.state, spent.payment_intent_id], ['scheduled', null]);

    // Day 6: asked again on a third PaymentIntent, within the first ask's window.
    await passAt(spent.next_attempt_at!.getTime() + 1000);
    const third = (await rowOf('inv-flight')).payment_intent_id!;
    assert.ok(third !== asked && third !== burnt);
    assert.equal(await statusOf('inv-flight'), 'action_required');
    const told = await noticesOf(w.db.pool, 'acct-flight');
    assert.deepEqual(
      told.map((n) => n.id),
      ['invoice.action_required:inv-flight:1', 'invoice.payment_failed:inv-flight:2', 'invoice.action_required:inv-flight:3'],
    );
    const again = told[2]!;
    assert.equal(again.data.payment_intent_id, third);
    assert.equal(again.data.replaces_payment_intent_id, burnt, 'the PaymentIntent this one replaces');
    assert.equal(again.data.replaced_because, 'other_cards_declined');
    assert.equal(again.data.asked_before_at, told[0]!.time, 'when they were asked before');
    // Its email says a request made again, canceled for other cards' declines (it names no PaymentIntent).
    const text = emailFor(again, { invoicingUrl: 'https://billing.example.test' })!.text;
    assert.match(text, /to confirm this payment\. That request was canceled to protect you: other cards were tried/);
  });

  test('within the window, after card testing burnt the request asked about and a stray payment since was given back: the notice says given back, the email keeps the card-testing warning', async () => {
    const pm = await putCard(w, 'acct-given', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-given', account: 'acct-given', total: '52.58' });
    const t0 = Date.now();
    await passAt(t0);
    const asked = (await rowOf('inv-given')).payment_intent_id!;
    await burnIntent(w, asked);

    // Day 1: the new PaymentIntent's amount changed at the gateway (anyone with the keys can), and the
    // cardholder confirms it on the page just before the charger does: 10.00 taken, a stray payment.
    const real = chargeGateway(w.sdk);
    let stray: string | undefined;
    const changed: ChargeGateway = {
      ...real,
      createPaymentIntent: (p) => real.createPaymentIntent({ ...p, amount: 1000 }),
      confirm: async (c) => {
        stray = c.paymentIntentId;
        await authenticate(w, c.paymentIntentId, pm);
        return real.confirm(c);
      },
    };
    await passAt(t0 + DAY, changed);
    assert.ok(stray && stray !== asked);
    assert.deepEqual(await invoiceCharge(w.db.pool, 'inv-given'), { status: 'finalized', code: 'stray_payment', pi: stray });

    // Given back in full; the next pass lets it go and asks again on a third PaymentIntent, within the window
    // (attempt 2: the stray's success spent no attempt).
    await w.sdk.refunds.create({ payment_intent: stray });
    await passAt(t0 + DAY + 60_000);
    const third = (await rowOf('inv-given')).payment_intent_id!;
    assert.ok(third !== asked && third !== stray);
    assert.equal(await statusOf('inv-given'), 'action_required');
    const told = await noticesOf(w.db.pool, 'acct-given');
    assert.deepEqual(
      told.map((n) => n.id),
      ['invoice.action_required:inv-given:1', 'invoice.action_required:inv-given:2'],
    );
    const again = told[1]!;
    assert.equal(again.data.payment_intent_id, third);
    assert.equal(again.data.asked_before_at, told[0]!.time, 'when they were asked before');
    assert.equal(again.data.replaces_payment_intent_id, stray, 'the PaymentIntent held just before');
    assert.equal(again.data.replaced_because, 'payment_given_back', 'given back, not canceled');
    assert.deepEqual(again.data.replaced_since_asked_before, ['other_cards_declined', 'payment_given_back']);
    // The email still warns of the other cards tried since the request asked about, and says the payment was given back.
    const text = emailFor(again, { invoicingUrl: 'https://billing.example.test' })!.text;
    assert.match(text, /That request was canceled to protect you: other cards were tried/);
    assert.match(text, /A payment taken for this invoice since then did not match it and was given back to you in full/);
    assert.match(text, /If nobody on your side tried other cards, tell your platform support/);
  });
});
