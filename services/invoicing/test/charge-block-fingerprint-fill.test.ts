// A fraud block made without the card's fingerprint (the card on file saved before cc-forms kept
// them, the gateway not saying which card: charge.card_block_unread) blocked its payment method alone
// for good: nothing read it again, so the same stolen card typed in again (a new payment method, the
// same fingerprint) was charged, and a cardholder waiting on it elsewhere could still pay on our page.
// Now each charging pass gives such a block the fingerprint cc-forms' view has for its payment method
// once cc-forms has it (its backfill: cards/fingerprint-backfill.ts), logged once; then, as a new
// block does, it revokes the PaymentIntents waiting on that card and names the other accounts holding
// it. cc-forms' view as a table the test writes, the in-memory gateway, real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import type { DisputeGateway } from '../src/charging/dispute-gateway.ts';
import { handleGatewayEvent } from '../src/charging/webhooks.ts';
import {
  chargedThrough,
  chargeRow,
  chargingDatabase,
  disputeEvent,
  novemberInvoice,
  putCard,
  putFingerprintedCard,
  statusOf,
  ThreeDsGateway,
} from './charging-fixture.ts';

describe("a fraud block without a fingerprint gets it from cc-forms' view once cc-forms has it (in-memory gateway, real PostgreSQL)", () => {
  let db: TestDatabase;
  const log = memoryLogger();
  const gateway = new ThreeDsGateway();
  const pass = () => chargePass({ pool: db.pool, gateway, retrySchedule: [86_400], log, concurrency: 1 });
  /** A restricted key: the dispute's card is never told, so our row's card is blocked (charge.card_block_unread). */
  const unread: DisputeGateway = { disputedCharge: async () => ({ error: 'permission_error (HTTP 403)' }) };
  const block = async (pm: string) =>
    (await db.pool.query('select fingerprint from invoicing.blocked_payment_methods where payment_method_id = $1', [pm])).rows;
  const filledLines = (pm: string) =>
    log.lines.filter((l) => l.includes('event=charge.block_fingerprint_filled') && l.includes(`payment_method=${pm} `));

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db?.drop());

  test('filled once cc-forms has it, logged once; then the same card typed in again is refused at charge, and a cardholder waiting on it elsewhere is no longer offered it', async () => {
    // acct-f1's card on file was saved before cc-forms kept fingerprints; acct-f3 saved the same card since.
    await putCard(db.pool, 'acct-f1', 'pm_ok_f1');
    await putFingerprintedCard(db.pool, 'acct-f3', 'pm_3ds_f3', 'fp_f1');
    await novemberInvoice(db.pool, 'f3', 'acct-f3');
    await pass();
    const waiting = (await chargeRow(db.pool, 'f3'))!;
    assert.equal(waiting.state, 'action_required');
    const x3 = waiting.payment_intent_id as string;

    // acct-f1's October payment charged back as fraud; the gateway will not say which card: ours, without a fingerprint.
    await chargedThrough(db.pool, 'f1', '25.00');
    await db.pool.query(`update invoicing.charges set last_payment_method_id = 'pm_ok_f1' where invoice_id = 'f1'`);
    const event = disputeEvent('evt_f1', 'withdrawn', 'dp_f1', 'pi_f1', 2500) as never;
    const outcome = await handleGatewayEvent({ pool: db.pool, log, disputes: unread }, event);
    assert.deepEqual([outcome.outcome, outcome.card_blocked], ['dispute_withdrawn', 'pm_ok_f1']);
    assert.deepEqual(await block('pm_ok_f1'), [{ fingerprint: null }]);

    // Until cc-forms has the card's fingerprint, a pass fills nothing and the other account's PaymentIntent waits.
    await pass();
    assert.deepEqual(await block('pm_ok_f1'), [{ fingerprint: null }]);
    assert.equal(gateway.intents.get(x3)?.status, 'requires_payment_method');

    // cc-forms' backfill reads it from the gateway.
    await db.pool.query(`update cc_forms.test_cards set fingerprint = 'fp_f1' where payment_method_id = 'pm_ok_f1'`);
    await pass();
    assert.deepEqual(await block('pm_ok_f1'), [{ fingerprint: 'fp_f1' }]);
    assert.match(
      filledLines('pm_ok_f1').join('\n'),
      /^at=warn event=charge\.block_fingerprint_filled payment_method=pm_ok_f1 account_id=acct-f1 dispute_id=dp_f1 count#charge\.block_fingerprints_filled=1$/,
    );
    assert.ok(
      log.lines.some((l) =>
        /event=charge\.card_blocked_elsewhere account_id=acct-f3 payment_method=pm_3ds_f3 blocked_by_account=acct-f1 dispute_id=dp_f1/.test(
          l,
        ),
      ),
      log.lines.join('\n'),
    );
    // The other account's PaymentIntent waiting on the card: revoked, and canceled by the same pass.
    assert.equal(gateway.intents.get(x3)?.status, 'canceled');

    // The customer types the same card in again: a new payment method, the same fingerprint. Refused at charge.
    await putFingerprintedCard(db.pool, 'acct-f1', 'pm_ok_f1_again', 'fp_f1');
    await novemberInvoice(db.pool, 'f1b', 'acct-f1');
    const sent = gateway.sent.length;
    await pass();
    await pass();
    assert.deepEqual(
      [await statusOf(db.pool, 'f1b'), (await chargeRow(db.pool, 'f1b'))?.last_error_code],
      ['past_due', 'card_reported_fraudulent'],
    );
    assert.equal(gateway.sent.length, sent, 'nothing sent on the same card');
    assert.deepEqual(
      [await statusOf(db.pool, 'f3'), (await chargeRow(db.pool, 'f3'))?.last_error_code],
      ['past_due', 'card_reported_fraudulent'],
    );
    assert.equal(filledLines('pm_ok_f1').length, 1, 'logged once, however many passes');
  });

  // Such a block is read from the gateway instead (charge-block-card-reads.test.ts); this stand-in gateway has no such read.
  test("a block whose payment method is no card on file any more is not given the new card's fingerprint from cc-forms' view", async () => {
    await chargedThrough(db.pool, 'f5', '25.00');
    await db.pool.query(`update invoicing.charges set last_payment_method_id = 'pm_ok_f5' where invoice_id = 'f5'`);
    await handleGatewayEvent(
      { pool: db.pool, log, disputes: unread },
      disputeEvent('evt_f5', 'withdrawn', 'dp_f5', 'pi_f5', 2500) as never,
    );
    assert.deepEqual(await block('pm_ok_f5'), [{ fingerprint: null }]);
    await putFingerprintedCard(db.pool, 'acct-f5', 'pm_ok_f5_new', 'fp_f5_new');
    await pass();
    assert.deepEqual(await block('pm_ok_f5'), [{ fingerprint: null }], "another card's fingerprint is not the blocked one's");
    assert.deepEqual(filledLines('pm_ok_f5'), []);
  });
});
