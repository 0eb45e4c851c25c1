// A 3-D Secure card asked again after card testing canceled the PaymentIntent
// its cardholder was asked about (card-testing.ts, asked-again.ts), against the
// gateway sandbox. The hour after the cancel the invoice page says "we charge
// your card shortly" and the old PaymentIntent can no longer be confirmed; then
// the card on file is charged on a new one and the bank asks again. That is a
// new request, told (the platform learns the PaymentIntent that waits now, and a
// customer who looked during the hour learns they are needed), but as one made
// again: the notice says when they were asked before, which PaymentIntent it
// replaces and why. It used to be the first request's copy, word for word.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { invoicingRoutes } from '../src/app.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { askedAgainWords } from '../src/charging/asked-again.ts';
import { chargePass } from '../src/charging/charger.ts';
import { chargeGateway } from '../src/charging/gateway-calls.ts';
import { emailFor } from '../src/email/messages.ts';
import { noticesOf } from '../src/notices/outbox.ts';
import { chargingWorld, insertInvoice, putCard, type ChargingWorld } from '../../../test/charging-harness.ts';
import { deliverSigned, foreignDeclineEvent } from './charging-fixture.ts';

const SECRET = 'whsec_card_testing_asked_again';
const ADMIN = 'card-testing-asked-again-admin-0123456789ab';
const ALWAYS_3DS = '4000002760003184';

let w: ChargingWorld;
let http: FastifyInstance;

before(async () => {
  w = await chargingWorld('card_testing_asked_again');
  const prices = loadPriceBook();
  http = createHttpApp(memoryLogger());
  invoicingRoutes(http, {
    pool: w.db.pool,
    billing: createBilling({ pool: w.db.pool, prices, graceHours: 72 }),
    prices,
    adminToken: ADMIN,
    log: memoryLogger(),
    webhooks: { verifier: w.sdk.webhooks, secret: SECRET, cardTesting: { limit: 1, gateway: chargeGateway(w.sdk) } },
  });
  await http.ready();
});
after(async () => {
  await http?.close();
  await w?.close();
});

const piOf = async (id: string) =>
  (await w.db.pool.query<{ pi: string | null }>('select payment_intent_id as pi from invoicing.charges where invoice_id = $1', [id]))
    .rows[0]!.pi;

/** A tester's card declined on the invoice's PaymentIntent, as the gateway signs its event (no decline_code). */
async function declineOther(id: string, pi: string, invoiceId: string, pm: string) {
  const res = await deliverSigned(http, foreignDeclineEvent(id, pi, invoiceId, pm, null), SECRET);
  assert.equal(res.statusCode, 200, res.body);
}

describe('a 3-D Secure card asked again after card testing canceled its PaymentIntent', () => {
  test('told once more, as a new request: when it was asked before, the PaymentIntent it replaces and why; a new card’s first ask says none of it', async () => {
    await putCard(w, 'acct-aa', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-aa', account: 'acct-aa', total: '52.58' });
    const deps = { pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [259_200, 432_000], log: memoryLogger() };
    await chargePass(deps);
    const first = (await piOf('inv-aa'))!;
    await declineOther('evt_aa_1', first, 'inv-aa', 'pm_tester_1');
    await declineOther('evt_aa_2', first, 'inv-aa', 'pm_tester_2');
    assert.equal((await w.sdk.paymentIntents.retrieve(first)).status, 'canceled');
    const { rows } = await w.db.pool.query<{ retry_at: Date }>(
      'select retry_at from invoicing.revoked_payment_intents where payment_intent_id = $1',
      [first],
    );

    // The hour has passed: the card on file is charged on a new PaymentIntent, and its bank asks again.
    await chargePass({ ...deps, now: () => new Date(rows[0]!.retry_at.getTime() + 1000) });
    const second = (await piOf('inv-aa'))!;
    assert.ok(second && second !== first);
    const told = await noticesOf(w.db.pool, 'acct-aa');
    assert.deepEqual(
      told.map((n) => n.id),
      ['invoice.action_required:inv-aa:1', 'invoice.action_required:inv-aa:2'],
    );
    const [asked, again] = told;
    assert.deepEqual(
      Object.keys(asked!.data).filter((k) => /before|replace/.test(k)),
      [],
      'the first ask is a first ask',
    );
    assert.equal(again!.data.payment_intent_id, second);
    assert.equal(again!.data.status, 'action_required');
    assert.equal(again!.data.asked_before_at, asked!.time);
    assert.equal(again!.data.replaces_payment_intent_id, first);
    assert.equal(again!.data.replaced_because, 'other_cards_declined');
    // The words its email says (a request made again, and why), beside the usual steps.
    const words = askedAgainWords(again!.data) ?? '';
    assert.match(words, new RegExp(`We asked you on ${new Date(asked!.time).getUTCDate()} \\w+ \\d{4} to confirm this payment`));
    assert.match(words, /other cards were tried\nand declined on this invoice's payment page/);
    assert.equal(askedAgainWords(asked!.data), undefined);
    // The email sent for it says them; the first ask's does not.
    const emails = [asked!, again!].map((n) => emailFor(n, { invoicingUrl: 'https://billing.example.test' })!.text);
    assert.ok(emails[1]!.includes(words), emails[1]);
    assert.ok(!emails[0]!.includes('We asked you on'), emails[0]);

    // Another card put on file, asking too: a new round, its own first ask.
    await putCard(w, 'acct-aa', ALWAYS_3DS);
    await chargePass(deps);
    const third = (await noticesOf(w.db.pool, 'acct-aa')).find((n) => n.id === 'invoice.action_required:inv-aa:3');
    assert.ok(third, 'asked for the new card');
    assert.equal(third.data.asked_before_at, undefined);
    assert.equal(third.data.replaces_payment_intent_id, undefined);
  });
});
