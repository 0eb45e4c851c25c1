// payment_intent.payment_failed for an invoice waiting for its cardholder
// (3-D Secure): signed deliveries, as the gateway sends them, over a real
// database. A decline after authenticating is recorded on the row, which keeps
// waiting (told as a declined payment; past due only when the window ends, as
// for a request ignored); a failed check is noted; a soft decline asking for
// authentication is the asking itself; anything not the invoice's own, or not
// waiting for it, changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import { decide } from '../src/charging/decide.ts';
import { readPaymentStates } from '../src/charging/payment-state.ts';
import { chargeCandidates } from '../src/charging/candidates.ts';
import { noticesOf } from '../src/notices/outbox.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, putCard, statusOf, webhookApp } from './charging-fixture.ts';

const SECRET = 'whsec_payment_failed_tests';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });
const DECLINED = { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' };
const CHECK_FAILED = {
  type: 'invalid_request_error',
  code: 'payment_intent_authentication_failure',
  message: 'The provided PaymentMethod has failed authentication.',
};
/** Stripe's soft decline: the bank asks for authentication (what the charger reads as action_required). */
const SOFT_DECLINE = {
  type: 'card_error',
  code: 'card_declined',
  decline_code: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};
const ASKED = {
  type: 'card_error',
  code: 'authentication_required',
  decline_code: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

const now = () => Math.floor(Date.now() / 1000);

/** An event about the invoice's own PaymentIntent (`pi_for_<invoice>`), for 5258 cents, as the gateway signs it. */
function event(
  id: string,
  type: string,
  invoiceId: string,
  o: { error?: object; pm?: string; intent?: string; amount?: number; created?: number } = {},
) {
  const intent = o.intent ?? `pi_for_${invoiceId}`;
  const failed = type === 'payment_intent.payment_failed';
  const payload = JSON.stringify({
    id,
    object: 'event',
    type,
    created: o.created ?? now(),
    livemode: false,
    data: {
      object: {
        id: intent,
        object: 'payment_intent',
        status: failed ? 'requires_payment_method' : 'succeeded',
        amount: o.amount ?? 5258,
        amount_received: failed ? 0 : (o.amount ?? 5258),
        currency: 'usd',
        payment_method: failed ? null : (o.pm ?? 'pm_3ds'),
        last_payment_error: failed
          ? { ...(o.error ?? DECLINED), payment_method: { id: o.pm ?? 'pm_3ds', object: 'payment_method' } }
          : null,
        metadata: { invoice_id: invoiceId, account_id: 'a', number: 'n' },
      },
    },
  });
  return { payload, signature: stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) };
}
const failed = (id: string, invoiceId: string, o: Parameters<typeof event>[3] = {}) =>
  event(id, 'payment_intent.payment_failed', invoiceId, o);

/** An invoice whose off-session attempt 1 (card pm_3ds) asked for the cardholder, as charging leaves it. */
async function waitingInvoice(pool: TestDatabase['pool'], id: string, status = 'action_required') {
  await insertInvoice(pool, { id, account: `acct-${id}`, total: '52.58', status });
  await putCard(pool, `acct-${id}`, 'pm_3ds');
  await pool.query(
    `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, round_start, last_payment_method_id, last_attempt_at,
                                    last_error_code, last_decline_code, last_error_message, action_required_at)
     values ($1, $2, 'action_required', 1, 0, 'pm_3ds', now() - interval '1 minute', 'authentication_required', null,
             'Your card was declined. This transaction requires authentication.', now() - interval '1 minute')`,
    [id, `pi_for_${id}`],
  );
}

describe('payment_intent.payment_failed while an invoice waits for its cardholder', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const log = memoryLogger();
  const post = (d: { payload: string; signature: string }) =>
    http.inject({
      method: 'POST',
      url: '/v1/gateway/webhooks',
      headers: { 'content-type': 'application/json', 'stripe-signature': d.signature },
      payload: d.payload,
    });
  const deliver = async (d: { payload: string; signature: string }) => {
    const res = await post(d);
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { received: boolean; duplicate: boolean };
  };
  const state = async (id: string, status = 'action_required') =>
    (await readPaymentStates(db.pool, [{ id, status, total: '52.58', currency: 'USD', amount_refunded: '0.00' } as never])).get(id)!;
  const outcomeOf = (eventId: string) =>
    log.lines
      .filter((l) => l.includes(`event_id=${eventId} `))
      .map((l) => /outcome=(\S+)(?: reason=(\S+))?/.exec(l)?.slice(1).join(' ').trim());
  const candidate = async (id: string) => (await chargeCandidates(db.pool, new Date(), 86_400)).find((c) => c.invoice.id === id);

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log, verifier: stripe.webhooks, secret: SECRET, adminToken: 'x'.repeat(40) });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('declined after authenticating: recorded on the row, which still waits; the invoice not past due; told once as a declined payment', async () => {
    await waitingInvoice(db.pool, 'pf-1');
    assert.deepEqual(await deliver(failed('evt_pf_1', 'pf-1')), { received: true, duplicate: false });
    assert.equal(await statusOf(db.pool, 'pf-1'), 'action_required', 'not past due while its cardholder has time');
    const row = await chargeRow(db.pool, 'pf-1');
    assert.equal(row?.state, 'action_required');
    assert.equal(row?.payment_intent_id, 'pi_for_pf-1', 'kept: its success later still pays the invoice');
    assert.deepEqual(
      [row?.last_error_code, row?.last_decline_code, row?.last_error_message, row?.attempts, row?.next_attempt_at, row?.past_due_at],
      ['card_declined', 'generic_decline', 'Your card was declined.', 1, null, null],
    );
    assert.deepEqual(outcomeOf('evt_pf_1'), ['declined']);
    const told = await noticesOf(db.pool, 'acct-pf-1');
    assert.deepEqual(
      told.map((n) => n.id),
      ['invoice.payment_failed:pf-1:1'],
      'no invoice.past_due at the decline',
    );
    assert.deepEqual(
      [told[0]!.data.code, told[0]!.data.reason, told[0]!.data.next_attempt_at, told[0]!.data.status],
      ['card_declined', 'Your card was declined.', null, 'action_required'],
    );
    // The pages: declined in the bank's words, another try or another card; no longer "asks you to confirm".
    assert.deepEqual(
      { ...(await state('pf-1')), since: undefined },
      {
        kind: 'action_required',
        paymentIntentId: 'pi_for_pf-1',
        paymentMethodId: 'pm_3ds',
        since: undefined,
        pastDue: false,
        declined: 'Your card was declined.',
      },
    );

    // The same delivery again: a duplicate, nothing told twice.
    assert.deepEqual(await deliver(failed('evt_pf_1', 'pf-1')), { received: true, duplicate: true });
    assert.equal((await noticesOf(db.pool, 'acct-pf-1')).length, 1);

    // The same card is not tried off-session (not a candidate before the window ends); another card starts a new round at once.
    assert.equal(await candidate('pf-1'), undefined);
    await putCard(db.pool, 'acct-pf-1', 'pm_other');
    const c = (await candidate('pf-1'))!;
    const decision = decide(c.invoice, c.charge, c.card, new Date(), 86_400);
    assert.ok(decision.do === 'attempt' && decision.newRound && decision.attempt === 2, JSON.stringify(decision));

    // Its PaymentIntent paid after all (the cardholder tried again): paid; a late failure then changes nothing.
    await deliver(event('evt_pf_1_paid', 'payment_intent.succeeded', 'pf-1'));
    assert.equal(await statusOf(db.pool, 'pf-1'), 'paid');
    await deliver(failed('evt_pf_1_late', 'pf-1'));
    assert.equal(await statusOf(db.pool, 'pf-1'), 'paid');
    assert.equal((await chargeRow(db.pool, 'pf-1'))?.state, 'paid');
    assert.deepEqual(outcomeOf('evt_pf_1_late'), ['unchanged not_waiting']);
  });

  test('the window’s end after a decline: past due then, as for a request ignored, the decline kept and told as the reason', async () => {
    await waitingInvoice(db.pool, 'pf-window');
    await waitingInvoice(db.pool, 'pf-ignored');
    await deliver(failed('evt_pf_window', 'pf-window'));
    const gateway = new FakeGateway();
    for (const id of ['pf-window', 'pf-ignored']) {
      const pi = `pi_for_${id}`;
      gateway.intents.set(pi, { id: pi, invoiceId: id, amount: 5258, customerId: `cus_acct-${id}`, status: 'requires_payment_method' });
    }
    // Asked a minute ago: an hour's window has not ended, half a minute's has.
    await chargePass({ pool: db.pool, gateway, retrySchedule: [3_600], log: memoryLogger() });
    assert.deepEqual([await statusOf(db.pool, 'pf-window'), await statusOf(db.pool, 'pf-ignored')], ['action_required', 'action_required']);
    await chargePass({ pool: db.pool, gateway, retrySchedule: [30], log: memoryLogger() });
    for (const id of ['pf-window', 'pf-ignored']) {
      assert.equal(await statusOf(db.pool, id), 'past_due', id);
      const row = await chargeRow(db.pool, id);
      assert.equal(row?.state, 'action_required', 'its PaymentIntent still waits: authenticating later pays it');
      assert.ok(row?.past_due_at instanceof Date, id);
    }
    assert.deepEqual(gateway.sent, [], 'no attempt made');
    const row = await chargeRow(db.pool, 'pf-window');
    assert.deepEqual([row?.last_error_code, row?.last_error_message], ['card_declined', 'Your card was declined.']);
    const told = await noticesOf(db.pool, 'acct-pf-window');
    assert.deepEqual(
      told.map((n) => `${n.id} ${n.data.reason}`),
      ['invoice.payment_failed:pf-window:1 Your card was declined.', 'invoice.past_due:pf-window declined'],
    );
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-pf-ignored')).map((n) => `${n.id} ${n.data.reason}`),
      ['invoice.past_due:pf-ignored authentication_required'],
    );
    const seen = await state('pf-window', 'past_due');
    assert.ok(seen.kind === 'action_required' && seen.pastDue && seen.declined === 'Your card was declined.', JSON.stringify(seen));
  });

  test('a charging pass that read the row before a decline was recorded does not write its stale row over it', async () => {
    await waitingInvoice(db.pool, 'pf-race');
    const gateway = new FakeGateway();
    gateway.intents.set('pi_for_pf-race', {
      id: 'pi_for_pf-race',
      invoiceId: 'pf-race',
      amount: 5258,
      customerId: 'cus_acct-pf-race',
      status: 'requires_payment_method',
    });
    // The decline arrives while the pass, its candidates read, asks the gateway whether the cardholder paid.
    const retrieve = gateway.retrievePaymentIntent.bind(gateway);
    gateway.retrievePaymentIntent = async (id) => {
      await deliver(failed('evt_pf_race', 'pf-race'));
      return retrieve(id);
    };
    await chargePass({ pool: db.pool, gateway, retrySchedule: [30], log: memoryLogger() });
    assert.equal(await statusOf(db.pool, 'pf-race'), 'past_due');
    const row = await chargeRow(db.pool, 'pf-race');
    assert.deepEqual(
      [row?.state, row?.last_error_code, row?.last_decline_code, row?.last_error_message],
      ['action_required', 'card_declined', 'generic_decline', 'Your card was declined.'],
    );
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-pf-race')).map((n) => `${n.type} ${n.data.reason}`),
      ['invoice.payment_failed Your card was declined.', 'invoice.past_due declined'],
    );
  });

  test('paid first, its failure delivered late (out of order): it stays paid, nothing told', async () => {
    await waitingInvoice(db.pool, 'pf-order');
    await deliver(event('evt_order_paid', 'payment_intent.succeeded', 'pf-order'));
    await deliver(failed('evt_order_failed', 'pf-order', { created: now() - 5 }));
    assert.equal(await statusOf(db.pool, 'pf-order'), 'paid');
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-pf-order')).map((n) => n.type),
      ['invoice.paid'],
    );
  });

  test('the off-session attempt’s own failure (authentication_required) is not a decline: the invoice still waits for the cardholder', async () => {
    await waitingInvoice(db.pool, 'pf-asked');
    await deliver(failed('evt_asked', 'pf-asked', { error: ASKED }));
    assert.equal(await statusOf(db.pool, 'pf-asked'), 'action_required');
    assert.equal((await chargeRow(db.pool, 'pf-asked'))?.last_error_code, 'authentication_required');
    assert.deepEqual(await noticesOf(db.pool, 'acct-pf-asked'), []);
    assert.equal((await state('pf-asked')).kind, 'action_required');
  });

  test('a soft decline asking for authentication (card_declined, decline_code authentication_required) is the asking, not a decline: nothing changes, nothing told', async () => {
    await waitingInvoice(db.pool, 'pf-soft');
    await deliver(failed('evt_soft', 'pf-soft', { error: SOFT_DECLINE }));
    assert.equal(await statusOf(db.pool, 'pf-soft'), 'action_required');
    const row = await chargeRow(db.pool, 'pf-soft');
    assert.deepEqual([row?.state, row?.last_error_code, row?.last_decline_code], ['action_required', 'authentication_required', null]);
    assert.deepEqual(await noticesOf(db.pool, 'acct-pf-soft'), []);
    assert.deepEqual(outcomeOf('evt_soft'), ['ignored asked']);
    const seen = await state('pf-soft');
    assert.ok(seen.kind === 'action_required' && seen.declined === undefined && !seen.checkFailed, JSON.stringify(seen));
  });

  test('a failed check is noted and still asks the cardholder (they may try again); a decline after it is recorded, still waiting', async () => {
    await waitingInvoice(db.pool, 'pf-check');
    await deliver(failed('evt_check', 'pf-check', { error: CHECK_FAILED }));
    assert.equal(await statusOf(db.pool, 'pf-check'), 'action_required');
    const row = await chargeRow(db.pool, 'pf-check');
    assert.deepEqual([row?.state, row?.last_error_code], ['action_required', 'payment_intent_authentication_failure']);
    const seen = await state('pf-check');
    assert.ok(seen.kind === 'action_required' && seen.checkFailed === true, JSON.stringify(seen));
    assert.deepEqual(await noticesOf(db.pool, 'acct-pf-check'), [], 'nothing charged, nothing declined: no email');
    assert.deepEqual(outcomeOf('evt_check'), ['authentication_failed']);
    await deliver(failed('evt_check_declined', 'pf-check'));
    assert.equal(await statusOf(db.pool, 'pf-check'), 'action_required');
    const declined = await state('pf-check');
    assert.ok(declined.kind === 'action_required' && declined.declined && !declined.checkFailed, JSON.stringify(declined));
  });

  test('an invoice already past due while it waited: the row records the decline and still waits, the invoice stays past_due, told once as declined', async () => {
    await waitingInvoice(db.pool, 'pf-late', 'past_due');
    await deliver(failed('evt_pf_late', 'pf-late'));
    assert.equal(await statusOf(db.pool, 'pf-late'), 'past_due');
    const row = await chargeRow(db.pool, 'pf-late');
    assert.deepEqual([row?.state, row?.last_error_code], ['action_required', 'card_declined']);
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-pf-late')).map((n) => n.id),
      ['invoice.payment_failed:pf-late:1'],
    );
    const seen = await state('pf-late', 'past_due');
    assert.ok(seen.kind === 'action_required' && seen.pastDue && seen.declined, JSON.stringify(seen));
  });

  test('not the invoice’s own PaymentIntent, or its amount, or an unknown invoice: recorded, logged as stray, nothing changes', async () => {
    await waitingInvoice(db.pool, 'pf-stray');
    await deliver(failed('evt_stray_pi', 'pf-stray', { intent: 'pi_someone_elses' }));
    await deliver(failed('evt_stray_amount', 'pf-stray', { amount: 5257 }));
    await deliver(failed('evt_stray_unknown', 'no-such-invoice'));
    assert.equal(await statusOf(db.pool, 'pf-stray'), 'action_required');
    assert.equal((await chargeRow(db.pool, 'pf-stray'))?.state, 'action_required');
    assert.deepEqual(await noticesOf(db.pool, 'acct-pf-stray'), []);
    for (const [id, reason] of [
      ['evt_stray_pi', 'not_its_payment_intent'],
      ['evt_stray_amount', 'amount_mismatch'],
      ['evt_stray_unknown', 'unknown_invoice'],
    ] as const) {
      const line = log.lines.find((l) => l.includes(`event_id=${id} `));
      assert.match(line ?? '', new RegExp(`at=warn .*outcome=stray reason=${reason}.*count#webhooks\\.stray=1`), id);
    }
    const recorded = await db.pool.query(`select id from invoicing.gateway_events where id like 'evt_stray_%' order by id`);
    assert.equal(recorded.rowCount, 3, 'recorded: a redelivery is a duplicate');
  });

  test('only while it waits, for the card asked about: not another card’s decline, not an earlier attempt’s late one, not a new round', async () => {
    await waitingInvoice(db.pool, 'pf-guard');
    await deliver(failed('evt_other_card', 'pf-guard', { pm: 'pm_other' }));
    await deliver(failed('evt_before', 'pf-guard', { created: now() - 3_600 }));
    assert.equal(await statusOf(db.pool, 'pf-guard'), 'action_required');
    assert.deepEqual(outcomeOf('evt_other_card'), ['unchanged another_card']);
    assert.deepEqual(outcomeOf('evt_before'), ['unchanged before_asking']);
    // Another card was put on file and its attempt is in flight: the row is no longer waiting.
    await db.pool.query(
      `update invoicing.charges set state = 'scheduled', pending_payment_method_id = 'pm_new', next_attempt_at = now() where invoice_id = 'pf-guard'`,
    );
    await deliver(failed('evt_new_round', 'pf-guard'));
    const row = await chargeRow(db.pool, 'pf-guard');
    assert.deepEqual(
      [row?.state, row?.pending_payment_method_id, row?.last_error_code],
      ['scheduled', 'pm_new', 'authentication_required'],
    );
    assert.deepEqual(outcomeOf('evt_new_round'), ['unchanged not_waiting']);
    assert.deepEqual(await noticesOf(db.pool, 'acct-pf-guard'), []);
  });
});
