// Card testing through an invoice's payment page, against the gateway sandbox
// through the stripe SDK and signed webhooks. The page hands the cardholder the
// client secret of the invoice's PaymentIntent; with the publishable key it
// confirms that PaymentIntent with any card, again and again (Stripe allows
// it). Each other card's decline is counted and warned; the one past
// CARD_ATTEMPTS_PER_HOUR cancels the PaymentIntent, so its secret is dead, and
// the invoice is still payable (a new PaymentIntent once the hour has passed),
// never twice. A PaymentIntent paid meanwhile is recorded paid, not canceled.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, freePort, startService, type RunningService } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { chargePass } from '../src/charging/charger.ts';
import { catchUpEvents, gatewayEvents } from '../src/charging/event-catch-up.ts';
import { chargeGateway } from '../src/charging/gateway-calls.ts';
import { noticesOf } from '../src/notices/outbox.ts';
import {
  authenticate,
  chargingWorld,
  confirmWithNewCard,
  customerOf,
  gatewayRecord,
  insertInvoice,
  putCard,
  type ChargingWorld,
} from '../../../test/charging-harness.ts';
import { deliverSigned, foreignDeclineEvent, webhookApp } from './charging-fixture.ts';

const ADMIN = 'card-testing-admin-token-0123456789abcdef';
const ALWAYS_3DS = '4000002760003184';
/** Stolen cards as a tester tries them: each one's own answer comes back. */
const DECLINING = ['4000000000000002', '4000000000009995', '4000000000000069', '4000000000000127', '4000000000000002'];
const LIMIT = 3;

const statusOf = async (w: ChargingWorld, id: string) =>
  (await w.db.pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [id])).rows[0]!.status;

const rowOf = async (w: ChargingWorld, id: string) =>
  (
    await w.db.pool.query<{ state: string; payment_intent_id: string | null; next_attempt_at: Date | null }>(
      'select state, payment_intent_id, next_attempt_at from invoicing.charges where invoice_id = $1',
      [id],
    )
  ).rows[0]!;

describe('other cards tried with an invoice’s client secret, through the sandbox and the invoicing process', () => {
  let w: ChargingWorld;
  let app: RunningService;

  before(async () => {
    w = await chargingWorld('card_testing');
    app = await startService('invoicing', {
      DATABASE_URL: w.db.url,
      GATEWAY_PORT: String(w.gatewayPort),
      ADMIN_TOKEN: ADMIN,
      INVOICING_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      CHARGE_EVERY_SECONDS: '0.2',
      INVOICE_FINALIZE_EVERY_SECONDS: '3600',
      CARD_ATTEMPTS_PER_HOUR: String(LIMIT),
    });
  });
  after(async () => {
    await app?.kill('SIGTERM');
    await w?.close();
  });

  test('each decline is warned with its count; the one past the limit cancels the PaymentIntent; a new one once the hour has passed pays the invoice once', async () => {
    const pm = await putCard(w, 'acct-ct', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-ct', account: 'acct-ct', total: '52.58' });
    await eventually('action_required', async () => (await statusOf(w, 'inv-ct')) === 'action_required');
    const pi = (await rowOf(w, 'inv-ct')).payment_intent_id!;
    // What POST /payments/:id/start hands the signed-in customer.
    const secret = (await w.sdk.paymentIntents.retrieve(pi)).client_secret!;
    const warned = () => app.lines.filter((l) => l.includes('event=charge.foreign_card_declined'));

    for (let i = 1; i <= LIMIT; i++) {
      const tried = await confirmWithNewCard(w, pi, secret, DECLINING[i - 1]!);
      assert.equal(tried.status, 402, JSON.stringify(tried.body));
      await eventually(`decline ${i} warned`, () => warned().length === i, 20_000);
      const line = warned()[i - 1]!;
      assert.match(line, / at=warn event=charge.foreign_card_declined /);
      assert.match(line, new RegExp(`invoice_id=inv-ct payment_intent=${pi} payment_method=pm_\\w+ declines_in_hour=${i} limit=${LIMIT}`));
      assert.match(line, /count#charges\.foreign_card_declined=1/);
      // Below the limit the invoice keeps waiting for its cardholder: their own card may still pay it.
      assert.equal(await statusOf(w, 'inv-ct'), 'action_required');
      assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'requires_payment_method');
    }

    // The one past the limit: its decline comes back like the others, then the PaymentIntent is canceled.
    const past = await confirmWithNewCard(w, pi, secret, DECLINING[LIMIT]!);
    assert.equal(past.status, 402);
    await eventually('canceled at the gateway', async () => (await w.sdk.paymentIntents.retrieve(pi)).status === 'canceled', 20_000);
    await eventually('revoked, told', () => app.lines.some((l) => l.includes('event=charge.payment_intent_revoked')), 20_000);
    assert.match(warned()[LIMIT]!, new RegExp(`declines_in_hour=${LIMIT + 1} limit=${LIMIT}`));
    // Its client secret is dead: the next card is refused before any bank is asked.
    const dead = await confirmWithNewCard(w, pi, secret, DECLINING[LIMIT + 1]!);
    assert.equal(dead.status, 400, JSON.stringify(dead.body));
    assert.equal(dead.body.error?.code, 'payment_intent_unexpected_state');

    // The row let it go, under a new key, and waits out the hour (no off-session attempt meanwhile).
    const row = await rowOf(w, 'inv-ct');
    assert.equal(row.state, 'scheduled');
    assert.equal(row.payment_intent_id, null);
    const wait = row.next_attempt_at!.getTime() - Date.now();
    assert.ok(wait > 55 * 60_000 && wait <= 3_600_000, `next attempt in ${wait} ms`);
    assert.equal(await statusOf(w, 'inv-ct'), 'finalized', 'no longer waiting for the cardholder');
    await new Promise((r) => setTimeout(r, 600));
    const customer = await customerOf(w.db.pool, 'acct-ct');
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-ct'), { intents: 1, succeeded: 0, failed: 1 + LIMIT + 1 });
    // The testers' declines are no payment of the customer's: nothing told for them.
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-ct')).map((n) => n.id),
      ['invoice.action_required:inv-ct:1'],
    );

    // The hour has passed: the card on file is charged again, on a new PaymentIntent, and asks for its holder.
    await w.db.pool.query(`update invoicing.charges set next_attempt_at = now() where invoice_id = 'inv-ct'`);
    await eventually('asked again', async () => (await statusOf(w, 'inv-ct')) === 'action_required', 20_000);
    const renewed = (await rowOf(w, 'inv-ct')).payment_intent_id!;
    assert.notEqual(renewed, pi);
    await authenticate(w, renewed, pm);
    await eventually('paid', async () => (await statusOf(w, 'inv-ct')) === 'paid', 20_000);
    await new Promise((r) => setTimeout(r, 600)); // passes and redeliveries after: nothing more
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-ct'), { intents: 2, succeeded: 1, failed: 1 + LIMIT + 2 });
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-ct')).map((n) => n.id),
      ['invoice.action_required:inv-ct:1', 'invoice.action_required:inv-ct:2', 'invoice.paid:inv-ct'],
    );
  });

  test('a card put on file after the PaymentIntent was canceled is charged at the next pass, once', async () => {
    await putCard(w, 'acct-ct2', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-ct2', account: 'acct-ct2', total: '52.58' });
    await eventually('action_required', async () => (await statusOf(w, 'inv-ct2')) === 'action_required');
    const pi = (await rowOf(w, 'inv-ct2')).payment_intent_id!;
    const secret = (await w.sdk.paymentIntents.retrieve(pi)).client_secret!;
    for (const number of DECLINING.slice(0, LIMIT + 1)) assert.equal((await confirmWithNewCard(w, pi, secret, number)).status, 402);
    await eventually('canceled', async () => (await rowOf(w, 'inv-ct2')).payment_intent_id === null, 20_000);

    await putCard(w, 'acct-ct2', '4242424242424242');
    await eventually('paid', async () => (await statusOf(w, 'inv-ct2')) === 'paid', 20_000);
    await new Promise((r) => setTimeout(r, 600));
    const customer = await customerOf(w.db.pool, 'acct-ct2');
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-ct2'), { intents: 2, succeeded: 1, failed: 1 + LIMIT + 1 });
  });
});

describe('card testing in process: signed deliveries, the catch-up, the charging pass', () => {
  const SECRET = 'whsec_card_testing_tests';
  let w: ChargingWorld;
  const log = memoryLogger();
  let http: FastifyInstance;

  before(async () => {
    w = await chargingWorld('card_testing_paid');
    const cardTesting = { limit: 1, gateway: chargeGateway(w.sdk) };
    http = await webhookApp(w.db.pool, { log, verifier: w.sdk.webhooks, secret: SECRET, adminToken: ADMIN, cardTesting });
  });
  after(async () => {
    await http?.close();
    await w?.close();
  });

  /** payment_intent.payment_failed of the invoice's PaymentIntent, declined for card `pm`, as the gateway signs it. */
  const deliverTo = (app: FastifyInstance, id: string, pi: string, invoiceId: string, pm: string) =>
    deliverSigned(app, foreignDeclineEvent(id, pi, invoiceId, pm), SECRET);
  const deliver = async (id: string, pi: string, invoiceId: string, pm: string) => {
    const res = await deliverTo(http, id, pi, invoiceId, pm);
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { duplicate: boolean };
  };

  test('a cancel the webhook could not make (no gateway at hand) is made by the next charging pass, and the row lets the PaymentIntent go', async () => {
    const bare = createHttpApp(log);
    invoicingRoutes(bare, {
      pool: w.db.pool,
      billing: createBilling({ pool: w.db.pool, prices: loadPriceBook(), graceHours: 72 }),
      prices: loadPriceBook(),
      adminToken: ADMIN,
      log,
      webhooks: { verifier: w.sdk.webhooks, secret: SECRET, cardTesting: { limit: 1 } },
    });
    await bare.ready();
    try {
      await putCard(w, 'acct-later', ALWAYS_3DS);
      await insertInvoice(w.db.pool, { id: 'inv-later', account: 'acct-later', total: '52.58' });
      const deps = { pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [259_200, 432_000], log: memoryLogger() };
      await chargePass(deps);
      const pi = (await rowOf(w, 'inv-later')).payment_intent_id!;
      for (const [id, pm] of [
        ['evt_later_1', 'pm_tester_a'],
        ['evt_later_2', 'pm_tester_b'],
      ]) {
        assert.equal((await deliverTo(bare, id!, pi, 'inv-later', pm!)).statusCode, 200);
      }
      assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'requires_payment_method', 'not canceled yet');
      assert.equal((await rowOf(w, 'inv-later')).payment_intent_id, pi);

      await chargePass(deps);
      assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'canceled');
      const row = await rowOf(w, 'inv-later');
      assert.deepEqual([row.state, row.payment_intent_id], ['scheduled', null]);
      assert.equal(await statusOf(w, 'inv-later'), 'finalized');
    } finally {
      await bare.close();
    }
  });

  test('each event is counted once (a redelivery adds nothing); past the limit the gateway says it succeeded: recorded paid, not canceled', async () => {
    const pm = await putCard(w, 'acct-paid', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-paid', account: 'acct-paid', total: '52.58' });
    const deps = { pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [259_200, 432_000], log: memoryLogger() };
    await chargePass(deps);
    assert.equal(await statusOf(w, 'inv-paid'), 'action_required');
    const pi = (await rowOf(w, 'inv-paid')).payment_intent_id!;
    // The cardholder pays on our page; its webhook has not come (no endpoint is registered here).
    await authenticate(w, pi, pm);
    assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'succeeded');

    const warned = () => log.lines.filter((l) => l.includes('event=charge.foreign_card_declined invoice_id=inv-paid '));
    assert.deepEqual(await deliver('evt_ct_1', pi, 'inv-paid', 'pm_tester_1'), { received: true, duplicate: false });
    assert.deepEqual(await deliver('evt_ct_1', pi, 'inv-paid', 'pm_tester_1'), { received: true, duplicate: true });
    assert.equal(warned().length, 1, 'a redelivery is not counted again');
    assert.match(warned()[0]!, /declines_in_hour=1 limit=1/);
    assert.equal(await statusOf(w, 'inv-paid'), 'action_required', 'at the limit, not past it');
    // The card charging itself tries is no other card: not counted (its decline is the cardholder's, told as such).
    await deliver('evt_ct_own', pi, 'inv-paid', pm);
    assert.equal(warned().length, 1);

    await deliver('evt_ct_2', pi, 'inv-paid', 'pm_tester_2');
    assert.match(warned()[1]!, /declines_in_hour=2 limit=1/);
    assert.equal(await statusOf(w, 'inv-paid'), 'paid');
    assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'succeeded', 'never canceled');
    assert.equal((await rowOf(w, 'inv-paid')).payment_intent_id, pi);
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-paid')).map((n) => n.type),
      ['invoice.action_required', 'invoice.payment_failed', 'invoice.paid'],
    );
    const settled = await w.db.pool.query(
      'select 1 from invoicing.revoked_payment_intents where payment_intent_id = $1 and settled_at is not null',
      [pi],
    );
    assert.equal(settled.rowCount, 1);
    // Nothing left to cancel: the next pass charges nothing more.
    await chargePass(deps);
    const customer = await customerOf(w.db.pool, 'acct-paid');
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-paid'), { intents: 1, succeeded: 1, failed: 1 });
  });
  test('the catch-up finds the declines its webhooks missed (the sandbox’s own events): counted alike, the PaymentIntent canceled past the limit', async () => {
    await putCard(w, 'acct-caught', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-caught', account: 'acct-caught', total: '52.58' });
    await chargePass({ pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [259_200, 432_000], log: memoryLogger() });
    const pi = (await rowOf(w, 'inv-caught')).payment_intent_id!;
    const secret = (await w.sdk.paymentIntents.retrieve(pi)).client_secret!;
    // No endpoint is registered here: the gateway delivers nothing, as when webhooks are down.
    for (const number of DECLINING.slice(0, 2)) assert.equal((await confirmWithNewCard(w, pi, secret, number)).status, 402);

    const caughtLog = memoryLogger();
    const gateway = chargeGateway(w.sdk);
    const tally = await catchUpEvents({
      pool: w.db.pool,
      log: caughtLog,
      events: gatewayEvents(w.sdk),
      cardTesting: { limit: 1, gateway },
    });
    assert.ok(tally && tally.caught_up >= 3, JSON.stringify(tally));
    const warned = caughtLog.lines.filter((l) => l.includes('event=charge.foreign_card_declined invoice_id=inv-caught '));
    assert.equal(warned.length, 2, caughtLog.lines.join('\n'));
    assert.match(warned[1]!, /declines_in_hour=2 limit=1/);
    assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'canceled');
    assert.deepEqual(Object.values(await rowOf(w, 'inv-caught')).slice(0, 2), ['scheduled', null]);
    // Run again: every event a duplicate, nothing counted twice.
    await catchUpEvents({ pool: w.db.pool, log: caughtLog, events: gatewayEvents(w.sdk), cardTesting: { limit: 1, gateway } });
    assert.equal(caughtLog.lines.filter((l) => l.includes('event=charge.foreign_card_declined invoice_id=inv-caught ')).length, 2);
  });
});
