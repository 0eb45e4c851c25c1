// A fraud block by fingerprint spans accounts (kept: a stolen card is stolen everywhere), but an
// innocent cardholder's own account, blocked by another account's fraud, was told "your bank reported
// a payment on your card on file as unauthorised" and no log said where the block came from. Now the
// match is warned (charge.card_blocked_elsewhere, both accounts) and that account's page and notice
// say only that the card cannot be used here (CARD_BLOCKED_ELSEWHERE). In-memory gateway, real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Invoice } from '@vault/contracts';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import { readPaymentStates } from '../src/charging/payment-state.ts';
import { handleGatewayEvent } from '../src/charging/webhooks.ts';
import { emailFor } from '../src/email/messages.ts';
import type { NoticeEvent } from '../src/notices/notice.ts';
import { paymentWords } from '../src/web/pages/payment.ts';
import {
  chargedThrough,
  chargeRow,
  chargingDatabase,
  disputeEvent,
  FakeGateway,
  fixtureDisputes,
  novemberInvoice,
  putFingerprintedCard,
  statusOf,
} from './charging-fixture.ts';

describe("a fingerprint block matching another account's card (in-memory gateway, real PostgreSQL)", () => {
  let db: TestDatabase;
  const log = memoryLogger();
  const gateway = new FakeGateway();
  /** What the customer is told of a past-due invoice: the notice's reason, its email and the page's words. */
  const told = async (id: string) => {
    const { rows } = await db.pool.query<{ event: NoticeEvent }>(
      `select event from invoicing.notices where type = 'invoice.past_due' and event->>'subject' = $1`,
      [id],
    );
    const seen = { id, status: await statusOf(db.pool, id), total: '20.00', currency: 'USD', amount_refunded: '0.00' } as const;
    const state = (await readPaymentStates(db.pool, [seen as never])).get(id)!;
    return {
      reason: rows[0]?.event.data.reason,
      email: emailFor(rows[0]!.event, { invoicingUrl: 'https://billing.example.test' })?.text ?? '',
      why: state.kind === 'past_due' ? state.why : state.kind,
      page: paymentWords(seen as unknown as Invoice, state).toString(),
    };
  };

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db?.drop());

  test('still not charged, warned naming both accounts; the innocent account is not told a payment of its own was reported', async () => {
    await putFingerprintedCard(db.pool, 'acct-e1', 'pm_ok_e1', 'fp_e');
    await putFingerprintedCard(db.pool, 'acct-e2', 'pm_ok_e2', 'fp_e'); // the same card number, on another account
    await chargedThrough(db.pool, 'e1', '25.00');
    await db.pool.query(`update invoicing.charges set last_payment_method_id = 'pm_ok_e1' where invoice_id = 'e1'`);
    const event = disputeEvent('evt_e1', 'withdrawn', 'dp_e1', 'pi_e1', 2500) as never;
    await handleGatewayEvent({ pool: db.pool, log, disputes: fixtureDisputes(db.pool, { pm_ok_e1: 'fp_e' }) }, event);
    assert.ok(
      log.lines.some((l) =>
        /^at=warn event=charge\.card_blocked_elsewhere account_id=acct-e2 payment_method=pm_ok_e2 blocked_by_account=acct-e1 dispute_id=dp_e1 /.test(
          l,
        ),
      ),
      log.lines.join('\n'),
    );

    await novemberInvoice(db.pool, 'e1b', 'acct-e1');
    await novemberInvoice(db.pool, 'e2', 'acct-e2');
    await chargePass({ pool: db.pool, gateway, retrySchedule: [60], log, concurrency: 1 });
    assert.equal(gateway.charges.length, 0, 'the block stays global');
    for (const id of ['e1b', 'e2']) assert.equal((await chargeRow(db.pool, id))?.last_error_code, 'card_reported_fraudulent');

    const own = await told('e1b');
    assert.deepEqual([own.reason, own.why], ['card_reported_fraudulent', 'card_blocked']);
    assert.match(own.email, /your bank reported a payment on your card on file as unauthorised/);

    const elsewhere = await told('e2');
    assert.deepEqual([elsewhere.reason, elsewhere.why], ['card_blocked_elsewhere', 'card_blocked_elsewhere']);
    for (const words of [elsewhere.email, elsewhere.page]) {
      assert.match(words, /the card on file cannot be used for payments here\. Please use a different card\./);
      assert.doesNotMatch(words, /reported|unauthori[sz]ed|fraud/i);
    }
  });
});
