// A card blocked as stolen was still offered while its cardholder was on the page: an invoice waiting
// for 3-D Secure kept its PaymentIntent on that card, the page offered "Authenticate and pay" and
// cc-forms' /start handed it over. Now the block revokes every PaymentIntent waiting for a cardholder
// on the blocked card, by payment method or fingerprint (block-revokes.ts): canceled at once when the
// gateway is at hand, else by the next pass; the invoice then goes past due card_reported_fraudulent.
// In-memory gateway, real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import { type PaymentRow, paymentState } from '../src/charging/payment-state.ts';
import { handleGatewayEvent } from '../src/charging/webhooks.ts';
import {
  chargedThrough,
  chargeRow,
  chargingDatabase,
  disputeEvent,
  fixtureDisputes,
  novemberInvoice,
  putFingerprintedCard,
  statusOf,
  ThreeDsGateway,
} from './charging-fixture.ts';

describe('a fraud block revokes the PaymentIntents waiting for a cardholder on the blocked card (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  const log = memoryLogger();
  const gateway = new ThreeDsGateway();
  const pass = () => chargePass({ pool: db.pool, gateway, retrySchedule: [86_400], log, concurrency: 1 });
  const page = async (id: string) =>
    paymentState(
      { id, status: (await statusOf(db.pool, id)) as never, total: '20.00', currency: 'USD', amount_refunded: '0.00' },
      (await chargeRow(db.pool, id)) as unknown as PaymentRow,
    );
  /** October's invoice of `acct-<id>` paid by `pm` through pi_<id>, charged back as fraud: the event. */
  const fraudOn = async (id: string, pm: string) => {
    await chargedThrough(db.pool, id, '25.00');
    await db.pool.query('update invoicing.charges set last_payment_method_id = $2 where invoice_id = $1', [id, pm]);
    return disputeEvent(`evt_${id}`, 'withdrawn', `dp_${id}`, `pi_${id}`, 2500) as never;
  };

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db?.drop());

  test('canceled at once, on this account and on another holding the same card; the page no longer offers it; the pass puts them past due', async () => {
    await putFingerprintedCard(db.pool, 'acct-w1', 'pm_3ds_w1', 'fp_w1');
    await putFingerprintedCard(db.pool, 'acct-w3', 'pm_3ds_w3', 'fp_w1'); // the same card number on another account
    await putFingerprintedCard(db.pool, 'acct-w5', 'pm_3ds_w5', 'fp_other');
    await novemberInvoice(db.pool, 'w2', 'acct-w1');
    await novemberInvoice(db.pool, 'w3', 'acct-w3');
    await novemberInvoice(db.pool, 'w5', 'acct-w5');
    await pass();
    const waiting = await Promise.all(['w2', 'w3', 'w5'].map(async (id) => (await chargeRow(db.pool, id))!));
    assert.deepEqual(
      waiting.map((r) => r.state),
      ['action_required', 'action_required', 'action_required'],
    );
    const [x2, x3, x5] = waiting.map((r) => r.payment_intent_id as string);
    assert.equal((await page('w2')).kind, 'action_required');

    const event = await fraudOn('w1', 'pm_3ds_w1');
    const disputes = fixtureDisputes(db.pool, { pm_3ds_w1: 'fp_w1' });
    const outcome = await handleGatewayEvent({ pool: db.pool, log, disputes, cardTesting: { limit: 10, gateway } }, event);
    assert.deepEqual([outcome.outcome, outcome.card_blocked], ['dispute_withdrawn', 'pm_3ds_w1']);
    assert.deepEqual(
      [x2, x3, x5].map((x) => gateway.intents.get(x!)?.status),
      ['canceled', 'canceled', 'requires_payment_method'],
      'the blocked card’s PaymentIntents canceled at the gateway, another card’s kept',
    );
    assert.notEqual((await page('w2')).kind, 'action_required', 'the page no longer offers the blocked card');
    assert.equal((await page('w5')).kind, 'action_required');
    assert.ok(log.lines.some((l) => l.includes('event=charge.blocked_card_intent_revoked') && l.includes('invoice_id=w3')));

    const sent = gateway.sent.length;
    await pass();
    for (const id of ['w2', 'w3']) {
      assert.deepEqual(
        [await statusOf(db.pool, id), (await chargeRow(db.pool, id))?.last_error_code],
        ['past_due', 'card_reported_fraudulent'],
      );
      assert.deepEqual(await page(id), {
        kind: 'past_due',
        why: 'card_blocked',
        reason: undefined,
        since: (await chargeRow(db.pool, id))?.past_due_at,
      });
    }
    assert.equal(gateway.sent.length, sent, 'nothing sent for the blocked card');
  });

  test('without the gateway at hand, the next pass cancels it before its candidates, and puts the invoice past due', async () => {
    await putFingerprintedCard(db.pool, 'acct-w7', 'pm_3ds_w7', 'fp_w7');
    await novemberInvoice(db.pool, 'w8', 'acct-w7');
    await pass();
    const x8 = (await chargeRow(db.pool, 'w8'))?.payment_intent_id as string;
    const event = await fraudOn('w7', 'pm_3ds_w7');
    await handleGatewayEvent({ pool: db.pool, log, disputes: fixtureDisputes(db.pool, { pm_3ds_w7: 'fp_w7' }) }, event);
    assert.equal(gateway.intents.get(x8)?.status, 'requires_payment_method');
    await pass();
    assert.equal(gateway.intents.get(x8)?.status, 'canceled');
    assert.deepEqual(
      [await statusOf(db.pool, 'w8'), (await chargeRow(db.pool, 'w8'))?.last_error_code],
      ['past_due', 'card_reported_fraudulent'],
    );
  });
});
