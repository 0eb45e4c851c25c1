// A fraudulent chargeback's card is the gateway's word (its dispute read back with its charge:
// dispute-block.ts). When the gateway does not answer that read, the event must not be acknowledged
// as handled without the block, or the card would be charged again: the webhook route answers 503
// (not recorded, so the gateway delivers it again) and the catch-up counts it waiting (its mark held
// at it, so the next run lists it again); both said at warn. The signed route and the catch-up, a
// stand-in for the gateway's dispute read, real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import type { DisputeGateway } from '../src/charging/dispute-gateway.ts';
import { catchUpEvents, type EventSource } from '../src/charging/event-catch-up.ts';
import { chargedThrough, chargingDatabase, deliverSigned, disputeEvent, fixtureDisputes, webhookApp } from './charging-fixture.ts';

const ADMIN = 'admin-token-for-card-unread-0123456789ab';
const SECRET = 'whsec_card_unread_tests';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });

describe('a fraudulent chargeback whose card the gateway does not tell is not acknowledged without the block (route, catch-up, real PostgreSQL)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const log = memoryLogger();
  let down = true;
  const disputes: DisputeGateway = {
    disputedCharge: async (id) => (down ? { error: 'StripeConnectionError' } : fixtureDisputes(db.pool).disputedCharge(id)),
  };
  /** An invoice paid through `pi_<id>` with card `pm`. */
  const paidWith = async (id: string, pm: string) => {
    await chargedThrough(db.pool, id, '25.00');
    await db.pool.query('update invoicing.charges set last_payment_method_id = $2 where invoice_id = $1', [id, pm]);
  };
  const blocked = async (pm: string) =>
    (await db.pool.query('select dispute_id from invoicing.blocked_payment_methods where payment_method_id = $1', [pm])).rows;
  const recorded = async (eventId: string) =>
    (await db.pool.query('select 1 from invoicing.gateway_events where id = $1', [eventId])).rows.length === 1;

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log, verifier: stripe.webhooks, secret: SECRET, adminToken: ADMIN, disputes });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('the webhook is answered 503 (not recorded, warned); delivered again once the gateway answers: 200, the card blocked', async () => {
    down = true;
    await paidWith('un-1', 'pm_ok_un_1');
    const event = disputeEvent('evt_un_1', 'withdrawn', 'dp_un_1', 'pi_un-1', 2500);
    const res = await deliverSigned(http, event, SECRET);
    assert.equal(res.statusCode, 503, res.body);
    assert.match(res.json<{ error: string }>().error, /deliver it again later/);
    assert.equal(await recorded('evt_un_1'), false);
    assert.deepEqual(await blocked('pm_ok_un_1'), []);
    assert.ok(
      log.lines.some((l) =>
        /^at=warn event=charge\.card_block_unread event_id=evt_un_1 invoice_id=un-1 dispute_id=dp_un_1 payment_intent=pi_un-1 code=StripeConnectionError/.test(
          l,
        ),
      ),
      log.lines.join('\n'),
    );

    down = false;
    const again = await deliverSigned(http, event, SECRET);
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), { received: true, duplicate: false });
    assert.deepEqual(await blocked('pm_ok_un_1'), [{ dispute_id: 'dp_un_1' }]);
    assert.equal(await recorded('evt_un_1'), true);
  });

  test('the catch-up counts it waiting (its mark held at it), and handles it on the run after the gateway answers', async () => {
    down = true;
    await paidWith('un-2', 'pm_ok_un_2');
    const event = { ...disputeEvent('evt_un_2', 'withdrawn', 'dp_un_2', 'pi_un-2', 2500), created: Math.floor(Date.now() / 1000) - 600 };
    const events: EventSource = {
      async *newestFirst(since) {
        if (event.created >= since) yield event;
      },
      async *oldestFirstAfter() {},
    };
    const first = await catchUpEvents({ pool: db.pool, log, events, disputes });
    assert.deepEqual([first?.waiting, first?.caught_up, first?.mark], [1, 0, event.created]);
    assert.equal(await recorded('evt_un_2'), false);

    down = false;
    const second = await catchUpEvents({ pool: db.pool, log, events, disputes });
    assert.deepEqual([second?.waiting, second?.caught_up], [0, 1]);
    assert.deepEqual(await blocked('pm_ok_un_2'), [{ dispute_id: 'dp_un_2' }]);
  });
});
