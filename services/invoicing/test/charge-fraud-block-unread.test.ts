// A fraudulent chargeback's card is the gateway's word (its dispute read back with its charge:
// dispute-block.ts). When that read failed, the event was not acknowledged (503, the catch-up holding
// its mark): the chargeback went unrecorded (the invoice read paid in full) for as long as the read
// failed (a restricted key without Disputes read: for good) and the card was charged again meanwhile.
// Now the dispute is recorded whatever the read does, and the card our charge row says paid is blocked
// instead (card-of-record.ts), its fingerprint when cc-forms' view has it; said at warn. The signed
// route and the catch-up, a dispute reader that always fails, real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import type { DisputeGateway } from '../src/charging/dispute-gateway.ts';
import { catchUpEvents, type EventSource } from '../src/charging/event-catch-up.ts';
import { chargedThrough, chargingDatabase, deliverSigned, disputeEvent, FakeGateway, putCard, webhookApp } from './charging-fixture.ts';

const ADMIN = 'admin-token-for-card-unread-0123456789ab';
const SECRET = 'whsec_card_unread_tests';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });

describe('a fraudulent chargeback whose card the gateway will not tell is recorded, and the card on our row blocked (route, catch-up, real PostgreSQL)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const log = memoryLogger();
  const disputes: DisputeGateway = { disputedCharge: async () => ({ error: 'permission_error (HTTP 403)' }) };
  /** An invoice of `acct-<id>` paid through `pi_<id>` with card `pm`, which is on file (fingerprint `fp`). */
  const paidWith = async (id: string, pm: string, fp: string | null = null) => {
    await chargedThrough(db.pool, id, '25.00');
    await db.pool.query('update invoicing.charges set last_payment_method_id = $2 where invoice_id = $1', [id, pm]);
    await putCard(db.pool, `acct-${id}`, pm);
    await db.pool.query('update cc_forms.test_cards set fingerprint = $2 where payment_method_id = $1', [pm, fp]);
  };
  const blocked = async (pm: string) =>
    (await db.pool.query('select dispute_id, fingerprint from invoicing.blocked_payment_methods where payment_method_id = $1', [pm])).rows;
  const disputed = async (disputeId: string) =>
    (await db.pool.query('select amount::text from invoicing.invoice_disputes where dispute_id = $1', [disputeId])).rows;

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log, verifier: stripe.webhooks, secret: SECRET, adminToken: ADMIN, disputes });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('the webhook is answered 200: the dispute recorded, the card on our row blocked with its fingerprint, warned; the next invoice is not charged on it', async () => {
    await paidWith('un-1', 'pm_ok_un_1', 'fp_un_1');
    const event = disputeEvent('evt_un_1', 'withdrawn', 'dp_un_1', 'pi_un-1', 2500);
    const res = await deliverSigned(http, event, SECRET);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { received: true, duplicate: false });
    assert.deepEqual(await disputed('dp_un_1'), [{ amount: '25.00' }]);
    assert.deepEqual(await blocked('pm_ok_un_1'), [{ dispute_id: 'dp_un_1', fingerprint: 'fp_un_1' }]);
    assert.ok(
      log.lines.some((l) =>
        /^at=warn event=charge\.card_block_unread event_id=evt_un_1 invoice_id=un-1 dispute_id=dp_un_1 payment_intent=pi_un-1 code="permission_error \(HTTP 403\)" blocked=pm_ok_un_1 by_fingerprint=true/.test(
          l,
        ),
      ),
      log.lines.join('\n'),
    );

    const gateway = new FakeGateway();
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total)
       values ('un-1b', 'acct-un-1', '2026-11', '2026-11-01Z', '2026-12-01Z', '2026-11-un-1b', 'finalized', 'USD', '7.00')`,
    );
    await chargePass({ pool: db.pool, gateway, retrySchedule: [60], log });
    assert.equal(gateway.charges.length, 0, 'nothing charged on the blocked card');
    const row = await db.pool.query(
      `select i.status, c.last_error_code from invoicing.invoices i join invoicing.charges c on c.invoice_id = i.id where i.id = 'un-1b'`,
    );
    assert.deepEqual(row.rows, [{ status: 'past_due', last_error_code: 'card_reported_fraudulent' }]);
  });

  test('the catch-up handles it at once (caught up, its mark moves on), the card blocked', async () => {
    await paidWith('un-2', 'pm_ok_un_2');
    const event = { ...disputeEvent('evt_un_2', 'withdrawn', 'dp_un_2', 'pi_un-2', 2500), created: Math.floor(Date.now() / 1000) - 600 };
    const events: EventSource = {
      async *newestFirst(since) {
        if (event.created >= since) yield event;
      },
      async *oldestFirstAfter() {},
    };
    const tally = await catchUpEvents({ pool: db.pool, log, events, disputes });
    assert.deepEqual([tally?.waiting, tally?.caught_up], [0, 1]);
    assert.deepEqual(await disputed('dp_un_2'), [{ amount: '25.00' }]);
    assert.deepEqual(await blocked('pm_ok_un_2'), [{ dispute_id: 'dp_un_2', fingerprint: null }]);
  });
});
