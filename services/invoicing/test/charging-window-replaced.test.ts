// The 3-D Secure window when the PaymentIntent of a round is replaced (round-ask.ts, save-answer.ts),
// in-memory gateway, real PostgreSQL. The window counts from the round's first ask across card
// testing's revokes (card-testing-window.test.ts): a customer burning the request with junk cards
// must not restart it. A request replaced for any other reason (a stray payment given back, a
// PaymentIntent canceled at the gateway by someone with the keys) is a new one the cardholder has
// not seen: it used to be past due the moment the bank asked, its window counted from the old ask.
// And an invoice already past due, asked again, is not counted or logged past due once more.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import type { Answer } from '../src/charging/decide.ts';
import { attemptKey, type Confirm } from '../src/charging/gateway-calls.ts';
import { GatewayEvent, handleGatewayEvent } from '../src/charging/webhooks.ts';
import { chargeRow, chargingDatabase, FakeGateway, foreignDeclineEvent, insertInvoice, putCard, statusOf } from './charging-fixture.ts';

const DAY = 86_400_000;
/** Window: 3 + 5 days. */
const RETRY_SCHEDULE = [259_200, 432_000];

/** payment_intent.payment_failed: a card tester's card `pm` declined on the invoice's PaymentIntent `pi`. */
const foreignDecline = (id: string, pi: string, invoiceId: string, pm: string) =>
  GatewayEvent.parse(foreignDeclineEvent(id, pi, invoiceId, pm, null));

/** The bank asks for the cardholder while `asks` (a risk-based 3-D Secure: not at every charge); else the card pays. */
class BankGateway extends FakeGateway {
  asks = true;
  override async confirm(c: Confirm): Promise<Answer> {
    if (!this.asks) return super.confirm(c);
    await this.beforeSend?.(c.invoiceId);
    this.sent.push(attemptKey(c.invoiceId, c.attempt));
    return { kind: 'action_required', code: 'authentication_required', message: 'This transaction requires authentication.' };
  }
}

describe('the 3-D Secure window when a round’s PaymentIntent is replaced', () => {
  let db: TestDatabase;
  let events = 0;
  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db.drop());

  const pass = (gateway: FakeGateway, at: number, log = memoryLogger()) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: RETRY_SCHEDULE, log, now: () => new Date(at) });
  const piOf = async (id: string) => (await chargeRow(db.pool, id))?.payment_intent_id as string;
  const noticesOf = async (account: string) =>
    (await db.pool.query<{ id: string }>('select id from invoicing.notices where account_id = $1 order by seq', [account])).rows.map(
      (r) => r.id,
    );
  /** Two other cards declined on the invoice's PaymentIntent, as the webhook counts them (limit 1): revoked and canceled at once. */
  const burn = async (gateway: FakeGateway, invoiceId: string) => {
    const pi = await piOf(invoiceId);
    for (const pm of ['pm_tester_1', 'pm_tester_2']) {
      const event = foreignDecline(`evt_window_${++events}`, pi, invoiceId, pm);
      await handleGatewayEvent({ pool: db.pool, log: memoryLogger(), cardTesting: { limit: 1, gateway } }, event);
    }
    assert.equal(gateway.intents.get(pi)?.status, 'canceled');
    assert.deepEqual([(await chargeRow(db.pool, invoiceId))?.state, await piOf(invoiceId)], ['scheduled', null]);
    return pi;
  };

  test('a stray payment given back, the bank asking on the new request: a window of its own, not past due at once', async () => {
    const gateway = new BankGateway();
    await putCard(db.pool, 'acct-stray', 'pm_ok_stray');
    await insertInvoice(db.pool, { id: 'inv-stray', account: 'acct-stray', total: '52.58' });
    const t0 = Date.now();
    await pass(gateway, t0);
    assert.equal(await statusOf(db.pool, 'inv-stray'), 'action_required');

    // Card testing burns it; a day later the card on file is charged again and the bank does not ask,
    // but someone with the keys changed the new PaymentIntent's amount first: a stray payment.
    await burn(gateway, 'inv-stray');
    gateway.asks = false;
    gateway.beforeSend = async () => {
      for (const i of gateway.intents.values()) if (i.invoiceId === 'inv-stray' && i.status === 'requires_payment_method') i.amount = 50;
    };
    assert.equal((await pass(gateway, t0 + DAY)).errors, 1);
    gateway.beforeSend = undefined;
    const stray = await piOf('inv-stray');
    assert.deepEqual(
      [(await chargeRow(db.pool, 'inv-stray'))?.last_error_code, await statusOf(db.pool, 'inv-stray')],
      ['stray_payment', 'finalized'],
    );

    // Day 9: the operator gave it back; the pass lets it go and charges the card anew, and the bank asks.
    gateway.refundedAtGateway(stray, 50);
    gateway.asks = true;
    const report = await pass(gateway, t0 + 9 * DAY);
    assert.equal(report.pastDue, 0);
    const asked = await piOf('inv-stray');
    assert.ok(asked && asked !== stray);
    assert.equal(await statusOf(db.pool, 'inv-stray'), 'action_required', 'the cardholder has time to authenticate it');
    assert.deepEqual(await noticesOf('acct-stray'), ['invoice.action_required:inv-stray:1', 'invoice.action_required:inv-stray:2']);

    // Burnt by card testing in turn: asked again, its window still counted from day 9 (not day 10).
    await burn(gateway, 'inv-stray');
    await pass(gateway, t0 + 10 * DAY);
    assert.equal(await statusOf(db.pool, 'inv-stray'), 'action_required');
    await pass(gateway, t0 + 17 * DAY - 60_000);
    assert.equal(await statusOf(db.pool, 'inv-stray'), 'action_required');
    await pass(gateway, t0 + 17 * DAY + 1000);
    assert.equal(await statusOf(db.pool, 'inv-stray'), 'past_due', '8 days after the new request');
  });

  test('a PaymentIntent canceled at the gateway under the attempt (not card testing): the next ask has a window of its own', async () => {
    const gateway = new BankGateway();
    await putCard(db.pool, 'acct-canceled', 'pm_ok_canceled');
    await insertInvoice(db.pool, { id: 'inv-canceled', account: 'acct-canceled', total: '52.58' });
    const t0 = Date.now();
    await pass(gateway, t0);
    await burn(gateway, 'inv-canceled');
    // Day 4: the new PaymentIntent is canceled by someone with the keys as it is confirmed: the attempt
    // is spent, the next one 5 days on.
    gateway.beforeSend = async () => {
      for (const i of gateway.intents.values())
        if (i.invoiceId === 'inv-canceled' && i.status === 'requires_payment_method') i.status = 'canceled';
    };
    gateway.asks = false;
    await pass(gateway, t0 + 4 * DAY);
    gateway.beforeSend = undefined;
    gateway.asks = true;
    assert.deepEqual([(await chargeRow(db.pool, 'inv-canceled'))?.state, await piOf('inv-canceled')], ['scheduled', null]);

    // Day 9, past the first ask's window: the bank asks on a new request, which the cardholder gets time for.
    const report = await pass(gateway, t0 + 9 * DAY);
    assert.equal(report.pastDue, 0);
    assert.equal(await statusOf(db.pool, 'inv-canceled'), 'action_required');
    await pass(gateway, t0 + 17 * DAY + 1000);
    assert.equal(await statusOf(db.pool, 'inv-canceled'), 'past_due');
  });

  test('card testing canceling the PaymentIntent under the attempt keeps the first ask: asked again past the window, past due at once', async () => {
    const gateway = new BankGateway();
    await putCard(db.pool, 'acct-inflight', 'pm_ok_inflight');
    await insertInvoice(db.pool, { id: 'inv-inflight', account: 'acct-inflight', total: '52.58' });
    const t0 = Date.now();
    await pass(gateway, t0);
    await burn(gateway, 'inv-inflight');
    // Day 4: the new PaymentIntent is burnt too while its attempt is in flight: the confirm is refused as canceled.
    let burning = false;
    gateway.beforeSend = async (invoiceId) => {
      const pi = await piOf(invoiceId);
      if (burning || !pi) return;
      burning = true;
      for (const pm of ['pm_tester_3', 'pm_tester_4']) {
        const event = foreignDecline(`evt_window_${++events}`, pi, invoiceId, pm);
        await handleGatewayEvent({ pool: db.pool, log: memoryLogger(), cardTesting: { limit: 1, gateway } }, event);
      }
    };
    gateway.asks = false;
    await pass(gateway, t0 + 4 * DAY);
    gateway.beforeSend = undefined;
    gateway.asks = true;
    assert.ok(burning);
    assert.deepEqual([(await chargeRow(db.pool, 'inv-inflight'))?.state, await piOf('inv-inflight')], ['scheduled', null]);

    const report = await pass(gateway, t0 + 9 * DAY);
    assert.equal(report.pastDue, 1);
    assert.equal(await statusOf(db.pool, 'inv-inflight'), 'past_due', 'the window of day 0 ended on day 8');
  });

  test('an invoice past due already, asked again past the window: neither counted past due nor logged unauthenticated again', async () => {
    const gateway = new BankGateway();
    await putCard(db.pool, 'acct-metric', 'pm_ok_metric');
    await insertInvoice(db.pool, { id: 'inv-metric', account: 'acct-metric', total: '52.58' });
    const t0 = Date.now();
    await pass(gateway, t0);
    const first = memoryLogger();
    assert.equal((await pass(gateway, t0 + 8 * DAY + 1000, first)).pastDue, 1);
    assert.equal(first.lines.filter((l) => l.includes('event=charge.unauthenticated')).length, 1);
    assert.equal(await statusOf(db.pool, 'inv-metric'), 'past_due');

    // Burnt while past due: charged again after the hour, the bank asks, past the window.
    await burn(gateway, 'inv-metric');
    const again = memoryLogger();
    const report = await pass(gateway, t0 + 9 * DAY, again);
    assert.deepEqual([report.charged, report.pastDue], [1, 0]);
    assert.deepEqual(
      again.lines.filter((l) => /event=charge\.unauthenticated|count#invoices\.past_due=[1-9]/.test(l)),
      [],
      again.lines.join('\n'),
    );
    assert.equal(await statusOf(db.pool, 'inv-metric'), 'past_due');
    // Nor told: a request made past its window is past due already (tell.ts askedLate), and so is the invoice.
    assert.deepEqual(await noticesOf('acct-metric'), ['invoice.action_required:inv-metric:1', 'invoice.past_due:inv-metric']);
  });

  test('an invoice past due for its declines, charged again after card testing and declined: not counted past due again', async () => {
    const gateway = new FakeGateway();
    await putCard(db.pool, 'acct-declined', 'pm_decline_metric');
    await insertInvoice(db.pool, { id: 'inv-declined', account: 'acct-declined', total: '52.58' });
    const t0 = Date.now();
    await pass(gateway, t0);
    await pass(gateway, t0 + 3 * DAY);
    assert.equal((await pass(gateway, t0 + 8 * DAY)).pastDue, 1);
    assert.equal(await statusOf(db.pool, 'inv-declined'), 'past_due');

    await burn(gateway, 'inv-declined');
    const report = await pass(gateway, t0 + 9 * DAY);
    assert.deepEqual([report.charged, report.declined, report.pastDue], [1, 1, 0]);
    assert.equal((await chargeRow(db.pool, 'inv-declined'))?.state, 'past_due');
  });
});
