// Two disputes of one invoice's payment: each was held to the invoice's total, never their sum,
// so a second dispute (another id of the same PaymentIntent) added its amount too and
// amount_disputed read more than the payment received (25.00 paid, 50.00 "withdrawn"; the
// conservation's `received` below what the gateway moved). Now the disputes recorded on an
// invoice, each by its amount, never exceed what its payment received (its total): one that
// would is refused (200, stray reason=disputes_exceed_payment, never recorded) and warned.
// Delivered signed to the webhook route, on the real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargedThrough, chargingDatabase, deliverSigned, webhookApp } from './charging-fixture.ts';

const ADMIN = 'admin-token-for-dispute-sum-0123456789ab';
const SECRET = 'whsec_dispute_sum_tests';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });

/** `type` of dispute `dispute` (its own charge id) on PaymentIntent `paymentIntent`, for `cents`. */
const disputeEvent = (id: string, type: 'withdrawn' | 'reinstated', dispute: string, paymentIntent: string, cents: number) => ({
  id,
  object: 'event',
  type: `charge.dispute.funds_${type}`,
  created: Math.floor(Date.now() / 1000),
  livemode: false,
  data: {
    object: {
      id: dispute,
      object: 'dispute',
      amount: cents,
      currency: 'usd',
      charge: `ch_${dispute}`,
      payment_intent: paymentIntent,
      reason: 'fraudulent',
      status: type === 'withdrawn' ? 'needs_response' : 'won',
    },
  },
});

describe("an invoice's disputes together never exceed what its payment received (webhook route, real PostgreSQL)", () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const log = memoryLogger();
  const deliver = async (e: object) => {
    const res = await deliverSigned(http, e, SECRET);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ received: boolean; duplicate: boolean }>();
  };
  const disputed = async (id: string) =>
    (await http.inject({ method: 'GET', url: `/v1/invoices/${id}`, headers: { authorization: `Bearer ${ADMIN}` } })).json().amount_disputed;
  const recorded = async (invoiceId: string) =>
    (
      await db.pool.query<{ dispute_id: string }>(
        'select dispute_id from invoicing.invoice_disputes where invoice_id = $1 order by dispute_id',
        [invoiceId],
      )
    ).rows.map((r) => r.dispute_id);
  const refusedLine = (eventId: string) =>
    log.lines.find((l) => l.includes('event=charge.dispute_refused') && l.includes(`event_id=${eventId} `));

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log, verifier: stripe.webhooks, secret: SECRET, adminToken: ADMIN });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('a second whole dispute of a 25.00 payment is refused and warned: amount_disputed stays 25.00, not 50.00; its reinstatement too', async () => {
    await chargedThrough(db.pool, 'ds-1', '25.00');
    assert.deepEqual(await deliver(disputeEvent('evt_ds_1a', 'withdrawn', 'dp_ds_1a', 'pi_ds-1', 2500)), {
      received: true,
      duplicate: false,
    });
    assert.equal(await disputed('ds-1'), '25.00');

    assert.deepEqual(await deliver(disputeEvent('evt_ds_1b', 'withdrawn', 'dp_ds_1b', 'pi_ds-1', 2500)), {
      received: true,
      duplicate: false,
    });
    assert.equal(await disputed('ds-1'), '25.00', 'never more than the payment received');
    assert.deepEqual(await recorded('ds-1'), ['dp_ds_1a']);
    assert.match(
      refusedLine('evt_ds_1b') ?? log.lines.join('\n'),
      /^at=warn event=charge\.dispute_refused event_id=evt_ds_1b invoice_id=ds-1 dispute_id=dp_ds_1b amount=25\.00 currency=USD disputed_before=25\.00 paid=25\.00 reason=disputes_exceed_payment/,
    );
    assert.ok(
      log.lines.some((l) =>
        /at=warn event=webhook\.received event_id=evt_ds_1b .*outcome=stray reason=disputes_exceed_payment invoice_id=ds-1 dispute_id=dp_ds_1b/.test(
          l,
        ),
      ),
      log.lines.join('\n'),
    );
    // Recorded as refused: its redelivery is a duplicate, not refused again for ever.
    assert.deepEqual(await deliver(disputeEvent('evt_ds_1b', 'withdrawn', 'dp_ds_1b', 'pi_ds-1', 2500)), {
      received: true,
      duplicate: true,
    });
    // The refused dispute's reinstatement is refused alike: it neither records it nor lowers the first one's.
    await deliver(disputeEvent('evt_ds_1b_r', 'reinstated', 'dp_ds_1b', 'pi_ds-1', 2500));
    assert.ok(refusedLine('evt_ds_1b_r'), log.lines.join('\n'));
    assert.equal(await disputed('ds-1'), '25.00');
    assert.deepEqual(await recorded('ds-1'), ['dp_ds_1a']);
    // The first dispute's own events still count: won, the money is back.
    await deliver(disputeEvent('evt_ds_1a_r', 'reinstated', 'dp_ds_1a', 'pi_ds-1', 2500));
    assert.equal(await disputed('ds-1'), '0.00');
  });

  test('parts of a 30.00 payment: 10.00 then 25.00 (35.00 > 30.00) is refused, 20.00 makes 30.00 exactly, then not a cent more', async () => {
    await chargedThrough(db.pool, 'ds-2', '30.00');
    await deliver(disputeEvent('evt_ds_2c', 'withdrawn', 'dp_ds_2c', 'pi_ds-2', 1000));
    await deliver(disputeEvent('evt_ds_2d', 'withdrawn', 'dp_ds_2d', 'pi_ds-2', 2500));
    assert.match(refusedLine('evt_ds_2d') ?? '', /amount=25\.00 currency=USD disputed_before=10\.00 paid=30\.00/);
    assert.equal(await disputed('ds-2'), '10.00');
    await deliver(disputeEvent('evt_ds_2e', 'withdrawn', 'dp_ds_2e', 'pi_ds-2', 2000));
    assert.equal(await disputed('ds-2'), '30.00');
    await deliver(disputeEvent('evt_ds_2f', 'withdrawn', 'dp_ds_2f', 'pi_ds-2', 1));
    assert.match(refusedLine('evt_ds_2f') ?? '', /amount=0\.01 currency=USD disputed_before=30\.00 paid=30\.00/);
    assert.equal(await disputed('ds-2'), '30.00');
    assert.deepEqual(await recorded('ds-2'), ['dp_ds_2c', 'dp_ds_2e']);
    // A recorded dispute's second copy (its events under new ids) is the same dispute, not a refused one.
    assert.deepEqual(await deliver(disputeEvent('evt_ds_2e_copy', 'withdrawn', 'dp_ds_2e', 'pi_ds-2', 2000)), {
      received: true,
      duplicate: false,
    });
    assert.equal(refusedLine('evt_ds_2e_copy'), undefined);
    assert.equal(await disputed('ds-2'), '30.00');
  });

  test('each dispute counts by its amount, reinstated or not, whichever of its events came first: the payment is charged back once', async () => {
    await chargedThrough(db.pool, 'ds-3', '20.00');
    // Won before its withdrawal was delivered: recorded all the same, and it holds its 20.00 of the payment.
    await deliver(disputeEvent('evt_ds_3g_r', 'reinstated', 'dp_ds_3g', 'pi_ds-3', 2000));
    await deliver(disputeEvent('evt_ds_3g', 'withdrawn', 'dp_ds_3g', 'pi_ds-3', 2000));
    assert.equal(await disputed('ds-3'), '0.00');
    await deliver(disputeEvent('evt_ds_3h', 'withdrawn', 'dp_ds_3h', 'pi_ds-3', 2000));
    assert.match(refusedLine('evt_ds_3h') ?? log.lines.join('\n'), /amount=20\.00 currency=USD disputed_before=20\.00 paid=20\.00/);
    assert.equal(await disputed('ds-3'), '0.00');
    assert.deepEqual(await recorded('ds-3'), ['dp_ds_3g']);
  });
});
