// Revoking the PaymentIntents waiting for a cardholder on a blocked card ran once, right after the
// block (or after its fingerprint was filled), and only then: a kill between the block's commit and
// those revokes left them offered for good (the block's fingerprint no longer null, nothing read it
// again), and a card whose fingerprint cc-forms learned after the block (saved before it kept them)
// was never matched at all. A waiting PaymentIntent has no charge-time refusal: the page's
// "Authenticate and pay" charged the stolen card. Now each charging pass sweeps: every row waiting on a
// card blocked as it reads now is revoked, and canceled by the same pass (block-revokes.ts); another
// account's is warned once (charge.card_blocked_elsewhere). In-memory gateway, real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import { handleGatewayEvent } from '../src/charging/webhooks.ts';
import {
  chargedThrough,
  chargeRow,
  chargingDatabase,
  disputeEvent,
  fixtureDisputes,
  novemberInvoice,
  putCard,
  putFingerprintedCard,
  statusOf,
  ThreeDsGateway,
} from './charging-fixture.ts';

describe('each charging pass revokes the PaymentIntents waiting on a blocked card, as the block reads now (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  const log = memoryLogger();
  const gateway = new ThreeDsGateway();
  const pass = () => chargePass({ pool: db.pool, gateway, retrySchedule: [86_400], log, concurrency: 1 });
  const elsewhere = (account: string) =>
    log.lines.filter((l) => l.includes('event=charge.card_blocked_elsewhere') && l.includes(`account_id=${account} `));
  /** Waits for a cardholder: a 3-D Secure card's invoice after a pass. Its PaymentIntent. */
  const waitingOn = async (id: string) => {
    const row = (await chargeRow(db.pool, id))!;
    assert.equal(row.state, 'action_required');
    return row.payment_intent_id as string;
  };

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db?.drop());

  test('(a) killed between a block (its fingerprint written) and its revokes: the next pass revokes and cancels them, and names the other account once', async () => {
    await putFingerprintedCard(db.pool, 'acct-s1', 'pm_3ds_s1', 'fp_s1');
    await putFingerprintedCard(db.pool, 'acct-s2', 'pm_3ds_s2', 'fp_s1'); // the same card number, on another account
    await novemberInvoice(db.pool, 's1', 'acct-s1');
    await novemberInvoice(db.pool, 's2', 'acct-s2');
    await pass();
    const [x1, x2] = [await waitingOn('s1'), await waitingOn('s2')];

    // What a block's (or a fill's) transaction leaves when the process dies right after its commit: the
    // block, fingerprint and all, and nothing revoked, nothing told.
    await db.pool.query(
      `insert into invoicing.blocked_payment_methods (payment_method_id, fingerprint, account_id, dispute_id, reason, blocked_at)
       values ('pm_3ds_s1', 'fp_s1', 'acct-s1', 'dp_s1', 'fraudulent', now())`,
    );
    await pass();
    assert.equal(gateway.intents.get(x1)?.status, 'canceled', "the blocked card's own account");
    assert.equal(gateway.intents.get(x2)?.status, 'canceled', 'another account holding the same card');
    assert.match(
      elsewhere('acct-s2').join('\n'),
      /^at=warn event=charge\.card_blocked_elsewhere account_id=acct-s2 payment_method=pm_3ds_s2 blocked_by_account=acct-s1 dispute_id=dp_s1 /,
    );
    assert.deepEqual(elsewhere('acct-s1'), []);
    await pass();
    for (const id of ['s1', 's2']) {
      assert.deepEqual(
        [await statusOf(db.pool, id), (await chargeRow(db.pool, id))?.last_error_code],
        ['past_due', 'card_reported_fraudulent'],
      );
    }
    assert.equal(elsewhere('acct-s2').length, 1, 'told once, however many passes');
  });

  test("(b) a card's fingerprint learned after the block (saved before cc-forms kept them): the next pass revokes its waiting PaymentIntent and warns once", async () => {
    await putCard(db.pool, 'acct-s4', 'pm_3ds_s4'); // no fingerprint yet
    await novemberInvoice(db.pool, 's4', 'acct-s4');
    await pass();
    const x4 = await waitingOn('s4');

    // acct-s3's October payment charged back as fraud, on a card with fingerprint fp_s3.
    await putFingerprintedCard(db.pool, 'acct-s3', 'pm_ok_s3', 'fp_s3');
    await chargedThrough(db.pool, 's3', '25.00');
    await db.pool.query(`update invoicing.charges set last_payment_method_id = 'pm_ok_s3' where invoice_id = 's3'`);
    const event = disputeEvent('evt_s3', 'withdrawn', 'dp_s3', 'pi_s3', 2500) as never;
    const outcome = await handleGatewayEvent({ pool: db.pool, log, disputes: fixtureDisputes(db.pool, { pm_ok_s3: 'fp_s3' }) }, event);
    assert.equal(outcome.card_blocked, 'pm_ok_s3');
    await pass();
    assert.equal(gateway.intents.get(x4)?.status, 'requires_payment_method', 'not known to be the same card yet');

    // cc-forms' backfill learns acct-s4's card is the same number.
    await db.pool.query(`update cc_forms.test_cards set fingerprint = 'fp_s3' where account_id = 'acct-s4'`);
    await pass();
    assert.equal(gateway.intents.get(x4)?.status, 'canceled');
    assert.match(
      elsewhere('acct-s4').join('\n'),
      /^at=warn event=charge\.card_blocked_elsewhere account_id=acct-s4 payment_method=pm_3ds_s4 blocked_by_account=acct-s3 dispute_id=dp_s3 /,
    );
    await pass();
    assert.deepEqual(
      [await statusOf(db.pool, 's4'), (await chargeRow(db.pool, 's4'))?.last_error_code],
      ['past_due', 'card_reported_fraudulent'],
    );
    assert.equal(elsewhere('acct-s4').length, 1, 'told once');
  });
});
