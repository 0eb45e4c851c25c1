// A confirm the gateway answers succeeded pays the invoice only when what it received is the
// invoice's own payment: its PaymentIntent, its total, its currency (paysInvoice, as the webhook
// checks). Anyone with the account's keys can change an unconfirmed PaymentIntent's amount or
// currency (Stripe allows it); the charger used to mark the invoice paid on the answer's status alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { reviewStandings } from '../src/accounts/standing.ts';
import { chargePass, type ChargerDeps } from '../src/charging/charger.ts';
import { readPaymentStates } from '../src/charging/payment-state.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, putCard, statusOf, ThreeDsGateway } from './charging-fixture.ts';

describe('a payment that is not the invoice’s own (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  let clock = new Date('2026-11-05T00:00:00Z');
  const tick = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  const pass = (gateway: FakeGateway, over: Partial<ChargerDeps> = {}) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: [60, 120], log: memoryLogger(), now: () => clock, ...over });
  const noticesOf = async (account: string) =>
    (await db.pool.query<{ type: string }>('select type from invoicing.notices where account_id = $1 order by seq', [account])).rows.map(
      (r) => r.type,
    );
  /** Before each confirm of the invoice, its PaymentIntent is updated at the gateway (someone with the keys). */
  const changedBeforeConfirm = (gateway: FakeGateway, invoiceId: string, change: { amount?: number; currency?: string }) => {
    gateway.beforeSend = async (id) => {
      const intent = [...gateway.intents.values()].find((i) => i.invoiceId === id && i.status === 'requires_payment_method');
      if (id === invoiceId && intent) gateway.updatedAtGateway(intent.id, change);
    };
  };
  const paymentStateOf = async (id: string) => {
    const { rows } = await db.pool.query(
      'select id, status, total::text, currency, amount_refunded::text from invoicing.invoices where id = $1',
      [id],
    );
    return (await readPaymentStates(db.pool, rows)).get(id);
  };

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db.drop());

  test('a confirm answered succeeded for 0.50 instead of 52.58 does not pay the invoice: no invoice.paid, the account stays suspended, charge.stray warned, not paid on the page; the next pass does not confirm it again', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'stray-amt', account: 'acct-stray-amt', total: '52.58' });
    await pass(gateway);
    assert.equal(await statusOf(db.pool, 'stray-amt'), 'past_due', 'no card yet');
    tick(86_400);
    const review = { pool: db.pool, log: memoryLogger(), suspendAfterSeconds: 3600, minimum: '0.50', now: () => clock };
    assert.equal((await reviewStandings(review)).suspended, 1);

    await putCard(db.pool, 'acct-stray-amt', 'pm_ok_stray');
    changedBeforeConfirm(gateway, 'stray-amt', { amount: 50 });
    const log = memoryLogger();
    const report = await pass(gateway, { log });
    assert.deepEqual(report, { charged: 0, paid: 0, declined: 0, pastDue: 0, noCard: 0, errors: 1 });
    assert.equal(gateway.succeededCharges('stray-amt'), 1, 'the gateway took 0.50 from the card');
    assert.equal(await statusOf(db.pool, 'stray-amt'), 'past_due');
    const intent = (await chargeRow(db.pool, 'stray-amt'))?.payment_intent_id as string;
    assert.ok(
      log.lines.some((l) =>
        l.includes(
          `event=charge.stray invoice_id=stray-amt payment_intent=${intent} reason=amount_mismatch amount_received=0.50 currency=USD`,
        ),
      ),
      log.lines.join('\n'),
    );
    const row = await chargeRow(db.pool, 'stray-amt');
    assert.deepEqual(
      [row?.state, row?.attempts, row?.pending_payment_method_id, row?.last_error_code, row?.paid_at],
      ['scheduled', 0, null, 'stray_payment', null],
    );
    assert.match(String(row?.last_error_message), /succeeded for 0\.50 USD, which does not pay this invoice \(amount_mismatch\)/);
    assert.deepEqual(await noticesOf('acct-stray-amt'), ['invoice.past_due', 'account.suspended']);
    const { rows } = await db.pool.query(`select suspended_at from invoicing.account_standing where account_id = 'acct-stray-amt'`);
    assert.notEqual(rows[0]?.suspended_at, null, 'still suspended');
    // The page: past due, a new card's round in flight, never paid.
    assert.equal((await paymentStateOf('stray-amt'))?.kind, 'pending');

    // Left for an operator: the next pass only looks whether it was refunded (not yet), sends nothing, counts no error.
    tick(60);
    const sent = gateway.keys.length;
    const again = memoryLogger();
    assert.deepEqual(await pass(gateway, { log: again }), { charged: 0, paid: 0, declined: 0, pastDue: 0, noCard: 0, errors: 0 });
    assert.equal(gateway.keys.length, sent, 'no confirm sent again');
    assert.equal(gateway.retrieved.at(-1), intent, 'its PaymentIntent looked at');
    assert.ok(!again.lines.some((l) => l.includes('event=charge.stray')), 'not warned again');
    assert.equal(await statusOf(db.pool, 'stray-amt'), 'past_due');
    assert.equal(gateway.succeededCharges('stray-amt'), 1);
  });

  test('the operator refunds the stray payment at the gateway: the next pass lets its PaymentIntent go and charges a new one for 52.58, which pays the invoice', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'stray-refunded', account: 'acct-stray-refunded', total: '52.58' });
    await putCard(db.pool, 'acct-stray-refunded', 'pm_ok_refunded');
    changedBeforeConfirm(gateway, 'stray-refunded', { amount: 50 });
    const log = memoryLogger();
    assert.equal((await pass(gateway, { log })).errors, 1);
    const stray = (await chargeRow(db.pool, 'stray-refunded'))?.payment_intent_id as string;
    const attempt = log.lines.find((l) => l.includes('event=charge.attempt invoice_id=stray-refunded'));
    assert.match(String(attempt), /at=warn event=charge\.attempt .*outcome=stray/);
    assert.ok(!log.lines.some((l) => l.includes('count#charges.succeeded')), 'a stray success is not counted as one');
    gateway.beforeSend = undefined;

    // No replay: the pass after sends nothing.
    tick(3600);
    const sent = gateway.keys.length;
    assert.equal((await pass(gateway)).charged, 0);
    assert.equal(gateway.keys.length, sent);
    assert.equal(await statusOf(db.pool, 'stray-refunded'), 'finalized');

    // Refunded in part: still stray (the customer would pay twice).
    gateway.refundedAtGateway(stray, 20);
    tick(3600);
    assert.equal((await pass(gateway)).charged, 0);
    assert.equal(gateway.keys.length, sent);

    // Refunded in full, in the gateway's dashboard: the invoice is charged anew, for its total.
    gateway.refundedAtGateway(stray, 30);
    tick(3600);
    const remedy = memoryLogger();
    const report = await pass(gateway, { log: remedy });
    assert.deepEqual([report.charged, report.paid, report.errors], [1, 1, 0]);
    const row = await chargeRow(db.pool, 'stray-refunded');
    const fresh = row?.payment_intent_id as string;
    assert.notEqual(fresh, stray, 'a new PaymentIntent');
    assert.equal(gateway.intents.get(fresh)?.amount, 5258, 'for the invoice total, 52.58');
    assert.equal(gateway.intents.get(fresh)?.status, 'succeeded');
    assert.equal(await statusOf(db.pool, 'stray-refunded'), 'paid');
    assert.deepEqual([row?.state, row?.last_error_code], ['paid', null]);
    assert.deepEqual(await noticesOf('acct-stray-refunded'), ['invoice.paid']);
    assert.ok(
      remedy.lines.some((l) =>
        l.includes(`event=charge.stray_released invoice_id=stray-refunded payment_intent=${stray} amount_refunded=0.50`),
      ),
    );
    assert.ok(
      remedy.lines.some((l) => /event=charge\.attempt invoice_id=stray-refunded .*outcome=succeeded .*count#charges\.succeeded=1/.test(l)),
    );
    assert.equal(gateway.succeededCharges('stray-refunded'), 2, 'the refunded 0.50, then the 52.58');
  });

  test('a confirm answered succeeded in another currency does not pay the invoice (currency_mismatch); an invoice charged as asked next to it is paid', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'stray-eur', account: 'acct-stray-eur', total: '20.00' });
    await insertInvoice(db.pool, { id: 'own-usd', account: 'acct-own-usd', total: '20.00' });
    await putCard(db.pool, 'acct-stray-eur', 'pm_ok_eur');
    await putCard(db.pool, 'acct-own-usd', 'pm_ok_usd');
    changedBeforeConfirm(gateway, 'stray-eur', { currency: 'eur' });
    const log = memoryLogger();
    const report = await pass(gateway, { log });
    assert.deepEqual([report.paid, report.errors], [1, 1]);
    assert.equal(await statusOf(db.pool, 'stray-eur'), 'finalized');
    assert.equal(await statusOf(db.pool, 'own-usd'), 'paid');
    assert.ok(
      log.lines.some((l) =>
        /event=charge\.stray invoice_id=stray-eur .*reason=currency_mismatch amount_received=20\.00 currency=EUR/.test(l),
      ),
    );
    assert.deepEqual(await noticesOf('acct-stray-eur'), []);
    assert.equal((await paymentStateOf('stray-eur'))?.kind, 'pending');
  });

  test('a cardholder’s payment read back for another amount (its webhook lost) is not paid either, is told to operators as stray, and is held as the charger holds one', async () => {
    const gateway = new ThreeDsGateway();
    await insertInvoice(db.pool, { id: 'stray-3ds', account: 'acct-stray-3ds', total: '52.58' });
    await putCard(db.pool, 'acct-stray-3ds', 'pm_3ds_stray');
    await pass(gateway);
    assert.equal(await statusOf(db.pool, 'stray-3ds'), 'action_required');
    const intent = (await chargeRow(db.pool, 'stray-3ds'))?.payment_intent_id as string;
    gateway.updatedAtGateway(intent, { amount: 100 });
    gateway.confirmedByCardholder(intent);
    tick(180);
    const log = memoryLogger();
    const report = await pass(gateway, { log });
    // Held (hold-stray.ts): not past due for it, counted as left after an error, as the charger's own stray.
    assert.deepEqual([report.paid, report.pastDue, report.errors], [0, 0, 1]);
    assert.equal(await statusOf(db.pool, 'stray-3ds'), 'finalized');
    assert.ok(log.lines.some((l) => l.includes(`event=charge.stray invoice_id=stray-3ds payment_intent=${intent} reason=amount_mismatch`)));
    const row = await chargeRow(db.pool, 'stray-3ds');
    assert.deepEqual([row?.payment_intent_id, row?.state, row?.last_error_code], [intent, 'scheduled', 'stray_payment']);
    assert.equal((await paymentStateOf('stray-3ds'))?.kind, 'pending', 'not paid on the page');
    // Later passes only look for its refund: nothing confirmed again, nothing told.
    tick(180);
    const later = await pass(gateway);
    assert.deepEqual([later.charged, later.paid, later.pastDue], [0, 0, 0]);
    assert.deepEqual((await chargeRow(db.pool, 'stray-3ds'))?.payment_intent_id, intent);
    assert.deepEqual(await noticesOf('acct-stray-3ds'), ['invoice.action_required']);
  });
});
