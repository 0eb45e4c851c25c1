// payment_intent.payment_failed for an invoice waiting for its cardholder
// (3-D Secure): signed deliveries, as the gateway sends them, over a real
// database. A decline after authenticating ends the wait (past_due, told as a
// declined payment, another card tried at once); a failed check is noted and
// the customer may try again; anything not the invoice's own, or not waiting
// for it, changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { decide } from '../src/charging/decide.ts';
import { readPaymentStates } from '../src/charging/payment-state.ts';
import { chargeCandidates } from '../src/charging/store.ts';
import { noticesOf } from '../src/notices/outbox.ts';
import { chargeRow, chargingDatabase, insertInvoice, putCard, statusOf } from './charging-fixture.ts';

const SECRET = 'whsec_payment_failed_tests';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });
const DECLINED = { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' };
const CHECK_FAILED = {
  type: 'invalid_request_error',
  code: 'payment_intent_authentication_failure',
  message: 'The provided PaymentMethod has failed authentication.',
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
    const prices = loadPriceBook();
    const billing = createBilling({ pool: db.pool, prices, graceHours: 72 });
    http = createHttpApp(log);
    invoicingRoutes(http, {
      pool: db.pool,
      billing,
      prices,
      adminToken: 'x'.repeat(40),
      log,
      webhooks: { verifier: stripe.webhooks, secret: SECRET },
    });
    await http.ready();
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('declined after authenticating: past_due with the bank’s words, told once as a declined payment; not retried, another card is', async () => {
    await waitingInvoice(db.pool, 'pf-1');
    assert.deepEqual(await deliver(failed('evt_pf_1', 'pf-1')), { received: true, duplicate: false });
    assert.equal(await statusOf(db.pool, 'pf-1'), 'past_due');
    const row = await chargeRow(db.pool, 'pf-1');
    assert.equal(row?.state, 'past_due');
    assert.equal(row?.payment_intent_id, 'pi_for_pf-1', 'kept: its success later still pays the invoice');
    assert.deepEqual(
      [row?.last_error_code, row?.last_decline_code, row?.last_error_message, row?.attempts, row?.next_attempt_at],
      ['card_declined', 'generic_decline', 'Your card was declined.', 1, null],
    );
    assert.deepEqual(outcomeOf('evt_pf_1'), ['declined']);
    const told = await noticesOf(db.pool, 'acct-pf-1');
    assert.deepEqual(
      told.map((n) => n.id),
      ['invoice.payment_failed:pf-1:1', 'invoice.past_due:pf-1'],
    );
    assert.equal(told[0]!.data.code, 'card_declined');
    assert.equal(told[0]!.data.reason, 'Your card was declined.');
    assert.equal(told[0]!.data.next_attempt_at, null);
    assert.equal(told[1]!.data.reason, 'declined');
    // The pages: declined, another card invited; no longer "your bank asks you to confirm".
    const seen = await state('pf-1', 'past_due');
    assert.deepEqual(
      { ...seen, since: undefined },
      { kind: 'past_due', why: 'declined', reason: 'Your card was declined.', since: undefined },
    );

    // The same delivery again: a duplicate, nothing told twice.
    assert.deepEqual(await deliver(failed('evt_pf_1', 'pf-1')), { received: true, duplicate: true });
    assert.equal((await noticesOf(db.pool, 'acct-pf-1')).length, 2);

    // The same card is not tried again (not even a candidate); another card starts a new round at once.
    assert.equal(await candidate('pf-1'), undefined);
    await putCard(db.pool, 'acct-pf-1', 'pm_other');
    const c = (await candidate('pf-1'))!;
    const decision = decide(c.invoice, c.charge, c.card, new Date(), 86_400);
    assert.ok(decision.do === 'attempt' && decision.newRound && decision.attempt === 2, JSON.stringify(decision));

    // Its PaymentIntent paid after all (the cardholder confirmed again): paid; a late failure then changes nothing.
    await deliver(event('evt_pf_1_paid', 'payment_intent.succeeded', 'pf-1'));
    assert.equal(await statusOf(db.pool, 'pf-1'), 'paid');
    await deliver(failed('evt_pf_1_late', 'pf-1'));
    assert.equal(await statusOf(db.pool, 'pf-1'), 'paid');
    assert.equal((await chargeRow(db.pool, 'pf-1'))?.state, 'paid');
    assert.deepEqual(outcomeOf('evt_pf_1_late'), ['unchanged not_waiting']);
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

  test('a failed check is noted and still asks the cardholder (they may try again); a decline after it ends the wait', async () => {
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
    assert.equal(await statusOf(db.pool, 'pf-check'), 'past_due');
  });

  test('an invoice already past due while it waited: the row says declined, the invoice stays past_due, told once as declined', async () => {
    await waitingInvoice(db.pool, 'pf-late', 'past_due');
    await deliver(failed('evt_pf_late', 'pf-late'));
    assert.equal(await statusOf(db.pool, 'pf-late'), 'past_due');
    assert.equal((await chargeRow(db.pool, 'pf-late'))?.state, 'past_due');
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-pf-late')).map((n) => n.id),
      ['invoice.payment_failed:pf-late:1'],
    );
    assert.equal((await state('pf-late', 'past_due')).kind, 'past_due');
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
