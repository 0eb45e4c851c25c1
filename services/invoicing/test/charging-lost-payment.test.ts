// A past-due invoice whose new card asked for 3-D Secure: the cardholder pays on our page and the
// payment_intent.succeeded webhook is lost. No window end moves a past-due invoice, so without a
// look at the PaymentIntent it stayed past due (and its account suspended) for ever; looked at once
// a window, a suspended account that paid stayed suspended up to 8 days: it is looked at hourly
// for 30 days after the ask, then once a window.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { reviewStandings } from '../src/accounts/standing.ts';
import { chargePass, type ChargerDeps } from '../src/charging/charger.ts';
import { lookBeforeSuspending } from '../src/charging/paid-by-cardholder.ts';
import { chargeRow, chargingDatabase, insertInvoice, putCard, statusOf, ThreeDsGateway } from './charging-fixture.ts';

describe('a past-due invoice waiting for its cardholder, its webhook lost (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  let clock = new Date('2026-11-05T00:00:00Z');
  const tick = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  // Retries after 60 s and 120 s: a cardholder asked to authenticate has 180 s.
  const pass = (gateway: ThreeDsGateway, over: Partial<ChargerDeps> = {}) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: [60, 120], log: memoryLogger(), now: () => clock, ...over });
  const noticesOf = async (account: string) =>
    (await db.pool.query<{ type: string }>('select type from invoicing.notices where account_id = $1 order by seq', [account])).rows.map(
      (r) => r.type,
    );

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db.drop());

  /** No card at the first pass (past due), then a 3-D Secure card a day later: the bank asks the cardholder. */
  async function pastDueAndAsked(gateway: ThreeDsGateway, id: string, account: string): Promise<string> {
    await insertInvoice(db.pool, { id, account, total: '52.58' });
    await pass(gateway);
    assert.equal(await statusOf(db.pool, id), 'past_due');
    tick(86_400);
    await putCard(db.pool, account, `pm_3ds_${account}`);
    await pass(gateway);
    const row = await chargeRow(db.pool, id);
    assert.deepEqual([await statusOf(db.pool, id), row?.state], ['past_due', 'action_required']);
    return row?.payment_intent_id as string;
  }

  test('paid on our page after 3-D Secure, the webhook lost: the window over, the pass finds it paid, tells invoice.paid and reinstates the account', async () => {
    const gateway = new ThreeDsGateway();
    const intent = await pastDueAndAsked(gateway, 'lost-1', 'acct-lost');
    // Past due for a day: the review suspends the account (SUSPEND_PAST_DUE_AFTER of an hour here).
    assert.equal(
      (await reviewStandings({ pool: db.pool, log: memoryLogger(), suspendAfterSeconds: 3600, minimum: '0.50', now: () => clock }))
        .suspended,
      1,
    );
    gateway.confirmedByCardholder(intent);
    tick(100);
    assert.equal((await pass(gateway)).paid, 0, 'within the window: nothing asked');
    tick(80);
    const report = await pass(gateway);
    assert.deepEqual([report.paid, report.pastDue, report.errors], [1, 0, 0]);
    assert.equal(await statusOf(db.pool, 'lost-1'), 'paid');
    assert.equal((await chargeRow(db.pool, 'lost-1'))?.state, 'paid');
    assert.deepEqual(await noticesOf('acct-lost'), [
      'invoice.past_due',
      'invoice.action_required',
      'account.suspended',
      'invoice.paid',
      'account.reinstated',
    ]);
    const { rows } = await db.pool.query(`select suspended_at from invoicing.account_standing where account_id = 'acct-lost'`);
    assert.equal(rows[0]?.suspended_at, null);
  });

  test('still waiting: nothing is written but the time of the look, and the PaymentIntent is looked at again only a window later', async () => {
    const gateway = new ThreeDsGateway();
    const intent = await pastDueAndAsked(gateway, 'wait-1', 'acct-wait');
    const asked = await chargeRow(db.pool, 'wait-1');
    const looks = () => gateway.retrieved.filter((id) => id === intent).length;
    tick(180);
    const report = await pass(gateway);
    assert.deepEqual([report.paid, report.pastDue, report.errors, looks()], [0, 0, 0, 1]);
    const looked = await chargeRow(db.pool, 'wait-1');
    assert.deepEqual({ ...looked, last_attempt_at: null, updated_at: null }, { ...asked, last_attempt_at: null, updated_at: null });
    assert.equal((looked!.last_attempt_at as Date).getTime(), clock.getTime());
    assert.deepEqual(await noticesOf('acct-wait'), ['invoice.past_due', 'invoice.action_required']);
    for (const seconds of [1, 60, 118]) {
      tick(seconds);
      await pass(gateway);
    }
    assert.equal(looks(), 1, 'not at every pass');
    tick(1);
    await pass(gateway);
    assert.equal(looks(), 2, 'a window after the last look');
    gateway.confirmedByCardholder(intent);
    tick(180);
    assert.equal((await pass(gateway)).paid, 1);
    assert.equal(await statusOf(db.pool, 'wait-1'), 'paid');
  });

  test('made past due at the end of its window, its cardholder paying later with the webhook lost: found a window after', async () => {
    const gateway = new ThreeDsGateway();
    await insertInvoice(db.pool, { id: 'late-1', account: 'acct-late', total: '20.00' });
    await putCard(db.pool, 'acct-late', 'pm_3ds_late');
    await pass(gateway);
    assert.equal(await statusOf(db.pool, 'late-1'), 'action_required');
    const intent = (await chargeRow(db.pool, 'late-1'))?.payment_intent_id as string;
    tick(180);
    assert.equal((await pass(gateway)).pastDue, 1);
    assert.equal(await statusOf(db.pool, 'late-1'), 'past_due');
    const looks = () => gateway.retrieved.filter((id) => id === intent).length;
    assert.equal(looks(), 1, 'looked at before it went past due');
    tick(10);
    await pass(gateway);
    assert.equal(looks(), 1, 'that look counts: none again at the next pass');
    gateway.confirmedByCardholder(intent);
    tick(170);
    assert.equal((await pass(gateway)).paid, 1);
    assert.equal(await statusOf(db.pool, 'late-1'), 'paid');
    assert.deepEqual(await noticesOf('acct-late'), ['invoice.action_required', 'invoice.past_due', 'invoice.paid']);
  });

  test('paid on our page before its window ends, the webhook lost: the look before the standing review pays it and the account is not suspended', async () => {
    const gateway = new ThreeDsGateway();
    const paid = await pastDueAndAsked(gateway, 'susp-1', 'acct-susp-paid');
    await pastDueAndAsked(gateway, 'susp-2', 'acct-susp-waits');
    gateway.confirmedByCardholder(paid);
    const deps: ChargerDeps = { pool: db.pool, gateway, retrySchedule: [60, 120], log: memoryLogger(), now: () => clock };
    const review = await reviewStandings({
      pool: db.pool,
      log: memoryLogger(),
      suspendAfterSeconds: 3600,
      minimum: '0.50',
      now: () => clock,
      beforeReview: (accountId) => lookBeforeSuspending(deps, accountId),
    });
    assert.equal(review.suspended, 1, 'the account still waiting is suspended as before');
    assert.equal(await statusOf(db.pool, 'susp-1'), 'paid');
    assert.deepEqual(await noticesOf('acct-susp-paid'), ['invoice.past_due', 'invoice.action_required', 'invoice.paid']);
    assert.deepEqual(await noticesOf('acct-susp-waits'), ['invoice.past_due', 'invoice.action_required', 'account.suspended']);
  });

  test('suspended, then paid on our page the next day with the webhook lost: found paid and reinstated within the hour, not a window (8 days)', async () => {
    const gateway = new ThreeDsGateway();
    // The default schedule (P3D, P5D): an 8-day window. The charging loop's tick: a pass, then the standing review.
    const deps: ChargerDeps = { pool: db.pool, gateway, retrySchedule: [259_200, 432_000], log: memoryLogger(), now: () => clock };
    const tickLoop = async () => {
      await chargePass(deps);
      const review = { pool: db.pool, log: memoryLogger(), suspendAfterSeconds: 3600, minimum: '0.50', now: () => clock };
      await reviewStandings({ ...review, beforeReview: (accountId) => lookBeforeSuspending(deps, accountId) });
    };
    const suspended = async () =>
      (await db.pool.query(`select suspended_at from invoicing.account_standing where account_id = 'acct-hour'`)).rows[0]?.suspended_at !=
      null;
    await insertInvoice(db.pool, { id: 'hour-1', account: 'acct-hour', total: '52.58' });
    await tickLoop();
    tick(86_400);
    await putCard(db.pool, 'acct-hour', 'pm_3ds_hour');
    await tickLoop();
    const intent = (await chargeRow(db.pool, 'hour-1'))?.payment_intent_id as string;
    const looks = () => gateway.retrieved.filter((id) => id === intent).length;
    assert.deepEqual([await statusOf(db.pool, 'hour-1'), await suspended(), looks()], ['past_due', true, 1], 'suspended, looked at before');
    tick(1800);
    await tickLoop();
    assert.equal(looks(), 1, 'just asked for 3-D Secure: the first look waits an hour after the ask');
    // The next day: a look (still waiting), then the cardholder pays on cc-forms' page; its webhook is lost.
    tick(86_400 - 1800);
    await tickLoop();
    gateway.confirmedByCardholder(intent);
    const paidAt = clock.getTime();
    tick(300);
    // Passes 5 minutes apart (of the fake clock) for up to 4 hours.
    for (let i = 0; i < 48 && (await suspended()); i++) {
      tick(300);
      await tickLoop();
    }
    assert.equal(await suspended(), false, 'reinstated');
    assert.ok(clock.getTime() - paidAt <= 3600_000, `found ${(clock.getTime() - paidAt) / 1000} s after the payment, within the hour`);
    assert.equal(looks(), 3, 'an hour between looks, not one at every pass');
    assert.equal(await statusOf(db.pool, 'hour-1'), 'paid');
    assert.deepEqual(await noticesOf('acct-hour'), [
      'invoice.past_due',
      'invoice.action_required',
      'account.suspended',
      'invoice.paid',
      'account.reinstated',
    ]);
  });

  test('asked more than 30 days ago (abandoned, say): looked at once a window again, not hourly for ever', async () => {
    const gateway = new ThreeDsGateway();
    const deps: ChargerDeps = { pool: db.pool, gateway, retrySchedule: [259_200, 432_000], log: memoryLogger(), now: () => clock };
    await insertInvoice(db.pool, { id: 'old-1', account: 'acct-old', total: '52.58' });
    await chargePass(deps);
    tick(86_400);
    await putCard(db.pool, 'acct-old', 'pm_3ds_old');
    await chargePass(deps);
    const intent = (await chargeRow(db.pool, 'old-1'))?.payment_intent_id as string;
    const looks = () => gateway.retrieved.filter((id) => id === intent).length;
    tick(31 * 86_400);
    await chargePass(deps);
    const first = looks();
    for (let hour = 0; hour < 24; hour++) {
      tick(3600);
      await chargePass(deps);
    }
    assert.equal(looks(), first, 'no look within the next day: the next is a window (8 days) after the last');
    tick(8 * 86_400);
    await chargePass(deps);
    assert.equal(looks(), first + 1);
  });
});
