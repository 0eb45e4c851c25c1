// Two disputes of one invoice's payment. The gateway disputes a charge once, so disputes together
// withdrawing more than the payment received is the gateway's anomaly, not ours to correct: each
// withdrawal it reports on our PaymentIntent is on the books as it says (it took the money), and
// one that makes amount_disputed exceed the payment is warned for operators. A refusal here (an
// earlier version) lost a real chargeback for good: won first (reinstated), a second one withdrawn
// after it was refused by the first's amount, and its event recorded as handled.
// Delivered signed to the webhook route, on the real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargedThrough, chargingDatabase, deliverSigned, disputeEvent, webhookApp } from './charging-fixture.ts';

const ADMIN = 'admin-token-for-dispute-sum-0123456789ab';
const SECRET = 'whsec_dispute_sum_tests';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });

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
  const exceededLine = (eventId: string) =>
    log.lines.find((l) => l.includes('event=charge.disputes_exceed_payment') && l.includes(`event_id=${eventId} `));

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log, verifier: stripe.webhooks, secret: SECRET, adminToken: ADMIN });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('a second whole dispute of a 25.00 payment is recorded as the gateway reports it, and warned: amount_disputed 50.00, paid 25.00', async () => {
    await chargedThrough(db.pool, 'ds-1', '25.00');
    await deliver(disputeEvent('evt_ds_1a', 'withdrawn', 'dp_ds_1a', 'pi_ds-1', 2500));
    assert.equal(await disputed('ds-1'), '25.00');
    assert.equal(exceededLine('evt_ds_1a'), undefined, 'one whole dispute is no anomaly');

    assert.deepEqual(await deliver(disputeEvent('evt_ds_1b', 'withdrawn', 'dp_ds_1b', 'pi_ds-1', 2500)), {
      received: true,
      duplicate: false,
    });
    assert.equal(await disputed('ds-1'), '50.00', 'what the gateway withdrew, all of it');
    assert.deepEqual(await recorded('ds-1'), ['dp_ds_1a', 'dp_ds_1b']);
    assert.match(
      exceededLine('evt_ds_1b') ?? log.lines.join('\n'),
      /^at=warn event=charge\.disputes_exceed_payment event_id=evt_ds_1b invoice_id=ds-1 dispute_id=dp_ds_1b amount=25\.00 currency=USD amount_disputed=50\.00 paid=25\.00 reason=disputes_exceed_payment/,
    );
    // Each one's reinstatement gives its own back.
    await deliver(disputeEvent('evt_ds_1b_r', 'reinstated', 'dp_ds_1b', 'pi_ds-1', 2500));
    assert.equal(await disputed('ds-1'), '25.00');
    await deliver(disputeEvent('evt_ds_1a_r', 'reinstated', 'dp_ds_1a', 'pi_ds-1', 2500));
    assert.equal(await disputed('ds-1'), '0.00');
  });

  test('a chargeback after one that was won is on the books: 20.00 withdrawn, reinstated, then another 20.00 withdrawn reads 20.00, no warning', async () => {
    await chargedThrough(db.pool, 'ds-3', '20.00');
    await deliver(disputeEvent('evt_ds_3g', 'withdrawn', 'dp_ds_3g', 'pi_ds-3', 2000));
    await deliver(disputeEvent('evt_ds_3g_r', 'reinstated', 'dp_ds_3g', 'pi_ds-3', 2000));
    assert.equal(await disputed('ds-3'), '0.00');
    await deliver(disputeEvent('evt_ds_3h', 'withdrawn', 'dp_ds_3h', 'pi_ds-3', 2000));
    assert.equal(await disputed('ds-3'), '20.00', 'the money the gateway took');
    assert.deepEqual(await recorded('ds-3'), ['dp_ds_3g', 'dp_ds_3h']);
    assert.equal(exceededLine('evt_ds_3h'), undefined, log.lines.join('\n'));
  });

  test('the same, its events out of order (the second withdrawn before the first’s reinstatement arrives): 20.00 in the end, warned only while it exceeded', async () => {
    await chargedThrough(db.pool, 'ds-4', '20.00');
    await deliver(disputeEvent('evt_ds_4g', 'withdrawn', 'dp_ds_4g', 'pi_ds-4', 2000));
    await deliver(disputeEvent('evt_ds_4h', 'withdrawn', 'dp_ds_4h', 'pi_ds-4', 2000));
    assert.match(exceededLine('evt_ds_4h') ?? log.lines.join('\n'), /amount_disputed=40\.00 paid=20\.00/);
    await deliver(disputeEvent('evt_ds_4g_r', 'reinstated', 'dp_ds_4g', 'pi_ds-4', 2000));
    assert.equal(await disputed('ds-4'), '20.00');
    assert.equal(exceededLine('evt_ds_4g_r'), undefined);
  });
});
