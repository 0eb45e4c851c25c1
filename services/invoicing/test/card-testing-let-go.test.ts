// Declines of a PaymentIntent the charge row has let go of (let-go-intent.ts),
// against the gateway sandbox. A card tester's burst on an invoice's page goes
// on while its PaymentIntent is canceled, and the declines made before the
// cancel keep arriving after it (deliveries in any order, the gateway's
// retries, the catch-up's copies). Each was logged `outcome=stray` at warn with
// count#webhooks.stray, as a PaymentIntent someone else made naming our
// invoice would be. Our records know them: `revoked` (or `let_go`) at info,
// still answered 200 and counted as cards tried on the invoice's page, never
// revoked again. A PaymentIntent the invoice never held stays a stray, at warn.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { memoryLogger } from '@vault/runtime';
import { chargePass } from '../src/charging/charger.ts';
import { catchUpEvents, gatewayEvents } from '../src/charging/event-catch-up.ts';
import { chargeGateway } from '../src/charging/gateway-calls.ts';
import { chargingWorld, confirmWithNewCard, insertInvoice, putCard, type ChargingWorld } from '../../../test/charging-harness.ts';
import { deliverSigned, foreignDeclineEvent, webhookApp } from './charging-fixture.ts';

const SECRET = 'whsec_card_testing_let_go';
const ADMIN = 'card-testing-let-go-admin-0123456789abcdef';
const ALWAYS_3DS = '4000002760003184';
/** Attaches; every charge of it is declined. */
const DECLINED_ON_CHARGE = '4000000000000341';
const STOLEN = ['4000000000000002', '4000000000009995', '4000000000000069'];

let w: ChargingWorld;
let http: FastifyInstance;
const log = memoryLogger();

before(async () => {
  w = await chargingWorld('card_testing_let_go');
  const cardTesting = { limit: 1, gateway: chargeGateway(w.sdk) };
  http = await webhookApp(w.db.pool, { log, verifier: w.sdk.webhooks, secret: SECRET, adminToken: ADMIN, cardTesting });
});
after(async () => {
  await http?.close();
  await w?.close();
});

const rowOf = async (id: string) =>
  (
    await w.db.pool.query<{ state: string; payment_intent_id: string | null }>(
      'select state, payment_intent_id from invoicing.charges where invoice_id = $1',
      [id],
    )
  ).rows[0]!;
const count = async (sql: string, params: unknown[]) => (await w.db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;

/** payment_intent.payment_failed of `pi` naming `invoiceId`, declined for card `pm`, as the gateway signs it. */
async function deliver(id: string, pi: string, invoiceId: string, pm: string) {
  const res = await deliverSigned(http, foreignDeclineEvent(id, pi, invoiceId, pm), SECRET);
  assert.equal(res.statusCode, 200, res.body);
}

/** The webhook.received (or webhook.caught_up) line of one event. */
const lineOf = (lines: string[], eventId: string) => {
  const found = lines.filter((l) => /event=webhook\.(received|caught_up) /.test(l) && l.includes(` event_id=${eventId} `));
  assert.equal(found.length, 1, lines.join('\n'));
  return found[0]!;
};

describe('a decline of a PaymentIntent the invoice let go of is recognised, not a stray', () => {
  test('revoked for card testing: a late decline is outcome=revoked at info, counted, not revoked again; a PaymentIntent never the invoice’s stays a stray at warn', async () => {
    await putCard(w, 'acct-lg', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-lg', account: 'acct-lg', total: '52.58' });
    await chargePass({ pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [259_200, 432_000], log: memoryLogger() });
    const pi = (await rowOf('inv-lg')).payment_intent_id!;
    await deliver('evt_lg_1', pi, 'inv-lg', 'pm_tester_a');
    await deliver('evt_lg_2', pi, 'inv-lg', 'pm_tester_b');
    assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'canceled');
    assert.deepEqual(Object.values(await rowOf('inv-lg')), ['scheduled', null]);

    // The burst's third card, declined before the cancel, delivered after it.
    await deliver('evt_lg_3', pi, 'inv-lg', 'pm_tester_c');
    const late = lineOf(log.lines, 'evt_lg_3');
    assert.match(late, /\bat=info event=webhook\.received /);
    assert.match(late, new RegExp(`outcome=revoked invoice_id=inv-lg payment_intent=${pi} foreign_declines=3 `));
    assert.doesNotMatch(late, /stray/);
    // Counted with the others (the invoice's hour), warned as each tested card is; nothing revoked or canceled again.
    const warned = log.lines.filter((l) => l.includes('event=charge.foreign_card_declined invoice_id=inv-lg '));
    assert.equal(warned.length, 3);
    assert.match(warned[2]!, /declines_in_hour=3 limit=1/);
    assert.equal(await count('select count(*)::int as n from invoicing.foreign_card_declines where invoice_id = $1', ['inv-lg']), 3);
    assert.equal(await count('select count(*)::int as n from invoicing.revoked_payment_intents where invoice_id = $1', ['inv-lg']), 1);
    assert.equal(log.lines.filter((l) => l.includes('event=charge.payment_intent_revoked invoice_id=inv-lg ')).length, 1);
    assert.deepEqual(Object.values(await rowOf('inv-lg')), ['scheduled', null], 'the row is not changed');

    // A PaymentIntent this invoice never held, naming it: a true stray, told to operators.
    await deliver('evt_lg_stray', 'pi_someone_elses', 'inv-lg', 'pm_tester_d');
    const stray = lineOf(log.lines, 'evt_lg_stray');
    assert.match(stray, /\bat=warn event=webhook\.received .*outcome=stray reason=no_payment_intent_recorded invoice_id=inv-lg /);
    assert.match(stray, /count#webhooks\.stray=1/);
    // Nor is another invoice's PaymentIntent this one's: a body naming inv-lg with it is a stray too.
    await putCard(w, 'acct-other', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-other', account: 'acct-other', total: '52.58' });
    await chargePass({ pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [259_200, 432_000], log: memoryLogger() });
    const others = (await rowOf('inv-other')).payment_intent_id!;
    await deliver('evt_lg_others', others, 'inv-lg', 'pm_tester_e');
    assert.match(lineOf(log.lines, 'evt_lg_others'), /\bat=warn .*outcome=stray /);
    assert.equal(await count('select count(*)::int as n from invoicing.foreign_card_declines where invoice_id = $1', ['inv-lg']), 3);
  });

  test('replaced by the charger (canceled at the dashboard): a late decline of the old PaymentIntent is outcome=let_go at info', async () => {
    await putCard(w, 'acct-rep', DECLINED_ON_CHARGE);
    await insertInvoice(w.db.pool, { id: 'inv-rep', account: 'acct-rep', total: '52.58' });
    const deps = { pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [60, 60], log: memoryLogger() };
    await chargePass(deps);
    const pi = (await rowOf('inv-rep')).payment_intent_id!;
    // Someone cancels it at the gateway's dashboard; the retry's confirm is refused and the charger replaces it.
    await w.sdk.paymentIntents.cancel(pi);
    await chargePass({ ...deps, now: () => new Date(Date.now() + 120_000) });
    assert.notEqual((await rowOf('inv-rep')).payment_intent_id, pi);

    await deliver('evt_rep_late', pi, 'inv-rep', 'pm_tester_f');
    const late = lineOf(log.lines, 'evt_rep_late');
    assert.match(late, new RegExp(`\\bat=info event=webhook\\.received .*outcome=let_go invoice_id=inv-rep payment_intent=${pi} `));
    assert.doesNotMatch(late, /stray/);
  });

  test('the catch-up finds a burst past the limit (the sandbox’s own events): the declines after the cancel are revoked at info, not stray', async () => {
    await putCard(w, 'acct-cu', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-cu', account: 'acct-cu', total: '52.58' });
    await chargePass({ pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [259_200, 432_000], log: memoryLogger() });
    const pi = (await rowOf('inv-cu')).payment_intent_id!;
    const secret = (await w.sdk.paymentIntents.retrieve(pi)).client_secret!;
    // A tester with the client secret and the publishable key; no endpoint registered: nothing delivered.
    const declines: string[] = [];
    for (const number of STOLEN) {
      const tried = await confirmWithNewCard(w, pi, secret, number);
      assert.equal(tried.status, 402);
      declines.push(tried.paymentMethod);
    }

    const caught = memoryLogger();
    await catchUpEvents({
      pool: w.db.pool,
      log: caught,
      events: gatewayEvents(w.sdk),
      cardTesting: { limit: 1, gateway: chargeGateway(w.sdk) },
    });
    assert.equal((await w.sdk.paymentIntents.retrieve(pi)).status, 'canceled');
    const failed = caught.lines.filter(
      (l) => l.includes('event=webhook.caught_up') && l.includes('type=payment_intent.payment_failed') && l.includes(' invoice_id=inv-cu '),
    );
    // The off-session attempt's own (it asked for the cardholder), then the testers'.
    assert.equal(failed.length, 1 + STOLEN.length, caught.lines.join('\n'));
    assert.match(failed[0]!, /outcome=ignored reason=asked/);
    // The second decline revoked it; the third, handled after the cancel, is the revoked PaymentIntent's.
    assert.match(
      failed[3]!,
      new RegExp(`\\bat=info event=webhook\\.caught_up .*outcome=revoked invoice_id=inv-cu payment_intent=${pi} foreign_declines=3 `),
    );
    assert.equal(caught.lines.filter((l) => l.includes('count#webhooks.stray')).length, 0, caught.lines.join('\n'));
    assert.equal(await count('select count(*)::int as n from invoicing.foreign_card_declines where invoice_id = $1', ['inv-cu']), 3);
  });
});
