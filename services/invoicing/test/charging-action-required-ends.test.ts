// An invoice waiting for 3-D Secure (status action_required) whose customer puts another card on
// file: a new round starts and nothing waits for the cardholder any more. The status only ever moved
// finalized → action_required, so the API, the CSV and the notices kept saying "waits for the
// cardholder to authenticate" (api.md) while the row was scheduled and the page said "declined, will
// retry". The status now goes back to finalized in the transaction that writes the row off its wait.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import { paymentState, type PaymentRow } from '../src/charging/payment-state.ts';
import { chargeCandidates } from '../src/charging/candidates.ts';
import { waitingPastDue } from '../src/charging/store.ts';
import { chargeRow, chargingDatabase, insertInvoice, putCard, statusOf, ThreeDsGateway, webhookApp } from './charging-fixture.ts';

const ADMIN = 'a'.repeat(40);
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });

describe('an action_required invoice whose customer puts another card on file (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let clock = new Date('2026-11-05T00:00:00Z');
  const tick = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  const pass = (gateway: ThreeDsGateway) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: [86_400, 172_800], log: memoryLogger(), now: () => clock, concurrency: 1 });
  /** Each notice of the account as `type:status` (its data's status), oldest first. */
  const told = async (account: string) =>
    (
      await db.pool.query<{ type: string; status: string; next: string | null }>(
        `select type, event->'data'->>'status' as status, event->'data'->>'next_attempt_at' as next
           from invoicing.notices where account_id = $1 order by seq`,
        [account],
      )
    ).rows;
  const apiStatus = async (id: string) =>
    (await http.inject({ method: 'GET', url: `/v1/invoices/${id}`, headers: { authorization: `Bearer ${ADMIN}` } })).json().status;
  const pageState = async (id: string) =>
    paymentState(
      { id, status: (await statusOf(db.pool, id)) as never, total: '20.00', currency: 'USD', amount_refunded: '0.00' },
      (await chargeRow(db.pool, id)) as unknown as PaymentRow,
    );

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log: memoryLogger(), verifier: stripe.webhooks, secret: 'whsec_unused', adminToken: ADMIN });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  /** A finalized invoice whose 3-D Secure card asked for its cardholder. */
  async function asked(gateway: ThreeDsGateway, id: string, account: string, status = 'finalized'): Promise<void> {
    await insertInvoice(db.pool, { id, account, total: '20.00', status });
    await putCard(db.pool, account, `pm_3ds_${account}`);
    await pass(gateway);
    assert.deepEqual(
      [await statusOf(db.pool, id), (await chargeRow(db.pool, id))?.state],
      [status === 'finalized' ? 'action_required' : status, 'action_required'],
    );
    tick(3600);
  }

  test('another card declined with a retry left: finalized again (API, row, page and the payment_failed notice agree)', async () => {
    const gateway = new ThreeDsGateway();
    await asked(gateway, 'ends-1', 'acct-ends-1');
    await putCard(db.pool, 'acct-ends-1', 'pm_decline_ends_1');
    await pass(gateway);
    const row = await chargeRow(db.pool, 'ends-1');
    assert.equal(row?.state, 'scheduled', 'declined, retried by the schedule');
    // Nothing waits for the cardholder any more: the status column, GET /v1/invoices/:id, the page and the notice agree.
    assert.deepEqual(
      {
        status: await statusOf(db.pool, 'ends-1'),
        api: await apiStatus('ends-1'),
        page: (await pageState('ends-1')).kind,
        notice: (await told('acct-ends-1')).at(-1)?.status,
      },
      { status: 'finalized', api: 'finalized', page: 'declined', notice: 'finalized' },
    );
    assert.deepEqual(await told('acct-ends-1'), [
      { type: 'invoice.action_required', status: 'action_required', next: null },
      // The notice carries the status once the change is made, and the retry.
      { type: 'invoice.payment_failed', status: 'finalized', next: new Date(clock.getTime() + 86_400_000).toISOString() },
    ]);
  });

  test('another card while the gateway does not answer: finalized with the attempt pending (nothing told), then its decline told as finalized', async () => {
    const gateway = new ThreeDsGateway();
    await asked(gateway, 'ends-2', 'acct-ends-2');
    await putCard(db.pool, 'acct-ends-2', 'pm_decline_ends_2');
    gateway.down = true;
    assert.equal((await pass(gateway)).errors, 1);
    const row = await chargeRow(db.pool, 'ends-2');
    assert.deepEqual([row?.state, row?.pending_payment_method_id], ['scheduled', 'pm_decline_ends_2']);
    assert.equal(await statusOf(db.pool, 'ends-2'), 'finalized');
    assert.equal(await apiStatus('ends-2'), 'finalized');
    assert.equal((await pageState('ends-2')).kind, 'pending');
    assert.deepEqual(await told('acct-ends-2'), [{ type: 'invoice.action_required', status: 'action_required', next: null }]);
    gateway.down = false;
    await pass(gateway);
    assert.equal(await statusOf(db.pool, 'ends-2'), 'finalized');
    assert.deepEqual(
      (await told('acct-ends-2')).map((n) => `${n.type}:${n.status}`),
      ['invoice.action_required:action_required', 'invoice.payment_failed:finalized'],
    );
  });

  test('killed while the new card is in flight: the status moved with the row it was written with, never a scheduled row under action_required', async () => {
    const gateway = new ThreeDsGateway();
    await asked(gateway, 'ends-3', 'acct-ends-3');
    await putCard(db.pool, 'acct-ends-3', 'pm_decline_ends_3');
    let seen: unknown[] | undefined;
    gateway.beforeSend = async (invoiceId) => {
      if (invoiceId !== 'ends-3') return;
      // What is committed when the confirm goes out, as another connection (the API, an export) reads it.
      seen = [await statusOf(db.pool, 'ends-3'), (await chargeRow(db.pool, 'ends-3'))?.state];
      throw new Error('killed with the confirm in flight');
    };
    assert.equal((await pass(gateway)).errors, 1);
    assert.deepEqual(seen, ['finalized', 'scheduled']);
    assert.deepEqual([await statusOf(db.pool, 'ends-3'), (await chargeRow(db.pool, 'ends-3'))?.state], ['finalized', 'scheduled']);
    gateway.beforeSend = undefined;
    await pass(gateway);
    assert.equal(gateway.sent.filter((k) => k === 'ends-3:attempt:2').length, 1, 'the same attempt replayed once the process is back');
    assert.deepEqual(
      (await told('acct-ends-3')).map((n) => `${n.type}:${n.status}`),
      ['invoice.action_required:action_required', 'invoice.payment_failed:finalized'],
    );
  });

  test('another card asking for 3-D Secure again: action_required again, told with that status and the new ask', async () => {
    const gateway = new ThreeDsGateway();
    await asked(gateway, 'ends-4', 'acct-ends-4');
    await putCard(db.pool, 'acct-ends-4', 'pm_3ds_again_4');
    await pass(gateway);
    const row = await chargeRow(db.pool, 'ends-4');
    assert.deepEqual(
      [row?.state, row?.last_payment_method_id, (row?.action_required_at as Date | undefined)?.toISOString()],
      ['action_required', 'pm_3ds_again_4', clock.toISOString()],
    );
    assert.equal(await statusOf(db.pool, 'ends-4'), 'action_required');
    assert.deepEqual(
      (await told('acct-ends-4')).map((n) => `${n.type}:${n.status}`),
      ['invoice.action_required:action_required', 'invoice.action_required:action_required'],
    );
  });

  test('a past-due invoice waiting for 3-D Secure stays past_due when another card is declined, and is no longer looked at as waiting', async () => {
    const gateway = new ThreeDsGateway();
    await asked(gateway, 'ends-5', 'acct-ends-5', 'past_due');
    await putCard(db.pool, 'acct-ends-5', 'pm_decline_ends_5');
    await pass(gateway);
    assert.deepEqual([await statusOf(db.pool, 'ends-5'), (await chargeRow(db.pool, 'ends-5'))?.state], ['past_due', 'scheduled']);
    assert.deepEqual(await waitingPastDue(db.pool, 'acct-ends-5'), [], 'its PaymentIntent no longer waits for the cardholder');
    // An hour on, nothing is looked at (no retrieve): the next attempt is the schedule's, a day after the decline.
    tick(3600);
    const retrieved = gateway.retrieved.length;
    assert.equal((await chargeCandidates(db.pool, clock, 86_400 + 172_800)).filter((c) => c.invoice.id === 'ends-5').length, 0);
    await pass(gateway);
    assert.equal(gateway.retrieved.length, retrieved);
    assert.equal(await statusOf(db.pool, 'ends-5'), 'past_due');
  });
});
