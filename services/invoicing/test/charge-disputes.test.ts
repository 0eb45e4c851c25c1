// Chargebacks recorded: charge.dispute.funds_withdrawn and
// charge.dispute.funds_reinstated, signed as the gateway signs them, on the
// real PostgreSQL. The invoice's amount_disputed follows (withdrawn, not
// reinstated), in either order of arrival, once per event and per dispute;
// its status stays; a dispute of no PaymentIntent of ours is stray.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargedThrough, chargingDatabase, deliverSigned, disputeMade, webhookApp } from './charging-fixture.ts';

const ADMIN = 'admin-token-for-dispute-tests-0123456789';
const SECRET = 'whsec_dispute_tests';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });

/** A dispute event of `dispute` on PaymentIntent `paymentIntent`, for `cents`. */
const disputeEvent = (
  id: string,
  type: 'withdrawn' | 'reinstated',
  dispute: string,
  paymentIntent: string | null,
  cents: number,
  extra: { currency?: string; created?: number } = {},
) => {
  disputeMade(dispute, paymentIntent, 'fraudulent');
  return {
    id,
    object: 'event',
    type: `charge.dispute.funds_${type}`,
    created: extra.created ?? Math.floor(Date.now() / 1000),
    livemode: false,
    data: {
      object: {
        id: dispute,
        object: 'dispute',
        amount: cents,
        currency: extra.currency ?? 'usd',
        charge: `ch_${dispute}`,
        payment_intent: paymentIntent,
        reason: 'fraudulent',
        status: type === 'withdrawn' ? 'needs_response' : 'won',
      },
    },
  };
};

describe('chargebacks reported by the gateway (charge.dispute.funds_withdrawn / funds_reinstated)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const log = memoryLogger();
  const deliver = (e: object) => deliverSigned(http, e, SECRET);
  const invoice = async (id: string) =>
    (await http.inject({ method: 'GET', url: `/v1/invoices/${id}`, headers: { authorization: `Bearer ${ADMIN}` } })).json();
  const shown = async (id: string) => {
    const i = await invoice(id);
    return [i.status, i.amount_disputed];
  };

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log, verifier: stripe.webhooks, secret: SECRET, adminToken: ADMIN });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('withdrawn shows amount_disputed (status stays paid), logged as a warning; reinstated gives 0.00; a replay changes nothing', async () => {
    await chargedThrough(db.pool, 'dp-1', '25.00');
    assert.deepEqual(await shown('dp-1'), ['paid', '0.00']);
    const withdrawn = disputeEvent('evt_dp_1', 'withdrawn', 'dp_1', 'pi_dp-1', 2500);
    assert.deepEqual((await deliver(withdrawn)).json(), { received: true, duplicate: false });
    assert.deepEqual(await shown('dp-1'), ['paid', '25.00']);
    assert.ok(
      log.lines.some((l) =>
        /at=warn event=charge\.dispute_withdrawn event_id=evt_dp_1 invoice_id=dp-1 dispute_id=dp_1 amount=25\.00 currency=USD/.test(l),
      ),
    );
    assert.ok(log.lines.some((l) => l.includes('count#charge.dispute_withdrawn=1')));
    assert.ok(
      log.lines.some((l) =>
        /event=webhook\.received event_id=evt_dp_1 .*outcome=dispute_withdrawn invoice_id=dp-1 dispute_id=dp_1 amount_disputed=25\.00/.test(
          l,
        ),
      ),
    );

    assert.deepEqual((await deliver(withdrawn)).json(), { received: true, duplicate: true });
    // The same withdrawal under another event id (a second copy): the dispute is withdrawn once.
    assert.equal((await deliver(disputeEvent('evt_dp_1b', 'withdrawn', 'dp_1', 'pi_dp-1', 2500))).statusCode, 200);
    assert.deepEqual(await shown('dp-1'), ['paid', '25.00']);

    assert.equal((await deliver(disputeEvent('evt_dp_1r', 'reinstated', 'dp_1', 'pi_dp-1', 2500))).statusCode, 200);
    assert.deepEqual(await shown('dp-1'), ['paid', '0.00']);
    assert.ok(log.lines.some((l) => /at=info event=charge\.dispute_reinstated event_id=evt_dp_1r invoice_id=dp-1/.test(l)));
    assert.deepEqual((await deliver(withdrawn)).json(), { received: true, duplicate: true });
    assert.deepEqual(await shown('dp-1'), ['paid', '0.00']);
    const listed = await http.inject({
      method: 'GET',
      url: '/v1/accounts/acct-dp-1/invoices',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(listed.json().invoices[0].amount_disputed, '0.00');
  });

  test('reinstated before withdrawn (deliveries in any order) ends at 0.00 too; two disputes add up; created, updated, closed move nothing', async () => {
    await chargedThrough(db.pool, 'dp-2', '40.00');
    assert.equal((await deliver(disputeEvent('evt_dp_2r', 'reinstated', 'dp_2', 'pi_dp-2', 1000))).statusCode, 200);
    assert.deepEqual(await shown('dp-2'), ['paid', '0.00']);
    assert.equal((await deliver(disputeEvent('evt_dp_2w', 'withdrawn', 'dp_2', 'pi_dp-2', 1000))).statusCode, 200);
    assert.deepEqual(await shown('dp-2'), ['paid', '0.00']);
    assert.equal((await deliver(disputeEvent('evt_dp_3w', 'withdrawn', 'dp_3', 'pi_dp-2', 1500))).statusCode, 200);
    assert.equal((await deliver(disputeEvent('evt_dp_4w', 'withdrawn', 'dp_4', 'pi_dp-2', 500))).statusCode, 200);
    assert.deepEqual(await shown('dp-2'), ['paid', '20.00']);
    // The dispute's other events move no money: acknowledged and ignored, like any other type.
    for (const type of ['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed']) {
      const other = { ...disputeEvent(`evt_dp_3_${type}`, 'withdrawn', 'dp_3', 'pi_dp-2', 1500), type };
      assert.equal((await deliver(other)).statusCode, 200);
    }
    assert.deepEqual(await shown('dp-2'), ['paid', '20.00']);
  });

  test('a dispute before its payment is recorded waits (409, unrecorded), then counts; a refunded invoice takes one too', async () => {
    await chargedThrough(db.pool, 'dp-early', '12.00', 'past_due');
    const early = disputeEvent('evt_dp_early', 'withdrawn', 'dp_early', 'pi_dp-early', 1200);
    const first = await deliver(early);
    assert.equal(first.statusCode, 409, first.body);
    assert.match(first.json().error, /payment is not recorded on its invoice yet/);
    assert.deepEqual(await shown('dp-early'), ['past_due', '0.00']);
    await db.pool.query(`update invoicing.invoices set status = 'paid' where id = 'dp-early'`);
    assert.deepEqual((await deliver(early)).json(), { received: true, duplicate: false });
    assert.deepEqual(await shown('dp-early'), ['paid', '12.00']);

    await chargedThrough(db.pool, 'dp-refunded', '8.00');
    await db.pool.query(`update invoicing.invoices set status = 'refunded', amount_refunded = 8.00 where id = 'dp-refunded'`);
    assert.equal((await deliver(disputeEvent('evt_dp_rf', 'withdrawn', 'dp_rf', 'pi_dp-refunded', 800))).statusCode, 200);
    assert.deepEqual(await shown('dp-refunded'), ['refunded', '8.00']);

    // Never paid three days after the event: stray, for operators, not refused for ever.
    await chargedThrough(db.pool, 'dp-never', '5.00', 'past_due');
    const stale = disputeEvent('evt_dp_never', 'withdrawn', 'dp_never', 'pi_dp-never', 500, {
      created: Math.floor(Date.now() / 1000) - 4 * 86_400,
    });
    assert.equal((await deliver(stale)).statusCode, 200);
    assert.ok(log.lines.some((l) => l.includes('event_id=evt_dp_never') && l.includes('outcome=stray reason=not_paid')));
  });

  test('a dispute of no PaymentIntent of ours, in another currency or above the total is stray: 200, logged, never recorded', async () => {
    await chargedThrough(db.pool, 'dp-5', '10.00');
    for (const [id, e] of [
      ['evt_dp_unknown', disputeEvent('evt_dp_unknown', 'withdrawn', 'dp_u', 'pi_nobody', 100)],
      ['evt_dp_none', disputeEvent('evt_dp_none', 'withdrawn', 'dp_n', null, 100)],
      ['evt_dp_eur', disputeEvent('evt_dp_eur', 'withdrawn', 'dp_e', 'pi_dp-5', 100, { currency: 'eur' })],
      ['evt_dp_more', disputeEvent('evt_dp_more', 'withdrawn', 'dp_m', 'pi_dp-5', 1001)],
    ] as const) {
      const res = await deliver(e);
      assert.equal(res.statusCode, 200, `${id}: ${res.body}`);
      assert.ok(
        log.lines.some((l) => l.includes(`event_id=${id}`) && l.includes('outcome=stray') && l.includes('count#webhooks.stray=1')),
        `${id} is logged as stray`,
      );
    }
    assert.deepEqual(await shown('dp-5'), ['paid', '0.00']);
    const { rows } = await db.pool.query(`select 1 from invoicing.invoice_disputes where dispute_id in ('dp_u', 'dp_n', 'dp_e', 'dp_m')`);
    assert.equal(rows.length, 0);
  });
});
