// A card charged back as fraud (a dispute of reason `fraudulent`: the cardholder's bank says the card
// was used without authorisation) stayed on file, and the next charging pass charged it again: another
// chargeback, another fee. Now the dispute's withdrawal blocks the payment method that paid (in the
// dispute's transaction, once), and charging treats a blocked card on file as no usable card: the
// invoice goes past due (`card_reported_fraudulent`, told and emailed) until another card is put on
// file, which is charged at once. A won dispute does not lift the block. The disputes are delivered
// signed to the webhook route; the in-memory gateway charges; real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Invoice } from '@vault/contracts';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import { paymentState, type PaymentRow } from '../src/charging/payment-state.ts';
import { emailFor } from '../src/email/messages.ts';
import type { NoticeEvent } from '../src/notices/notice.ts';
import { paymentWords } from '../src/web/pages/payment.ts';
import {
  chargeRow,
  chargingDatabase,
  deliverSigned,
  disputeEvent,
  FakeGateway,
  insertInvoice,
  putCard,
  statusOf,
  webhookApp,
} from './charging-fixture.ts';

const ADMIN = 'admin-token-for-fraud-block-0123456789ab';
const SECRET = 'whsec_fraud_block_tests';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });

describe('a card charged back as fraud is never charged again (webhook route, in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const log = memoryLogger();
  const gateway = new FakeGateway();
  let clock = new Date('2026-11-05T00:00:00Z');
  const pass = () => {
    clock = new Date(clock.getTime() + 3600_000);
    return chargePass({ pool: db.pool, gateway, retrySchedule: [60, 120], log, now: () => clock });
  };
  const deliver = async (e: object) => {
    const res = await deliverSigned(http, e, SECRET);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ received: boolean; duplicate: boolean }>();
  };
  /** A later month's invoice of the account (one an account and period: insertInvoice's is October). */
  const later = async (id: string, account: string, total: string, period: string) =>
    db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total)
       values ($1, $2, $3, ($3 || '-01')::date, ($3 || '-01')::date + interval '1 month', $1, 'finalized', 'USD', $4)`,
      [id, account, period, total],
    );
  /** An invoice of the account, charged by a pass with its card on file: its PaymentIntent. */
  const paidInvoice = async (id: string, account: string, period?: string) => {
    if (period) await later(id, account, '52.58', period);
    else await insertInvoice(db.pool, { id, account, total: '52.58' });
    await pass();
    assert.equal(await statusOf(db.pool, id), 'paid');
    return (await chargeRow(db.pool, id))?.payment_intent_id as string;
  };
  const blocked = async (account: string) =>
    (
      await db.pool.query<{ payment_method_id: string; dispute_id: string; reason: string }>(
        'select payment_method_id, dispute_id, reason from invoicing.blocked_payment_methods where account_id = $1 order by payment_method_id',
        [account],
      )
    ).rows;
  const chargesTo = (pm: string) => gateway.charges.filter((c) => c.paymentMethod === pm).length;

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log, verifier: stripe.webhooks, secret: SECRET, adminToken: ADMIN });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('a fraudulent chargeback blocks the card: the next invoice is past due (card_reported_fraudulent), told and emailed, not charged; a new card is charged; winning the dispute does not lift it', async () => {
    await putCard(db.pool, 'acct-fb', 'pm_ok_fb_stolen');
    const intent = await paidInvoice('fb-1', 'acct-fb');
    assert.equal(chargesTo('pm_ok_fb_stolen'), 1);

    await deliver(disputeEvent('evt_fb_1', 'withdrawn', 'dp_fb_1', intent, 5258));
    assert.deepEqual(await blocked('acct-fb'), [{ payment_method_id: 'pm_ok_fb_stolen', dispute_id: 'dp_fb_1', reason: 'fraudulent' }]);
    assert.ok(
      log.lines.some((l) =>
        /^at=warn event=charge\.card_blocked event_id=evt_fb_1 invoice_id=fb-1 dispute_id=dp_fb_1 payment_method=pm_ok_fb_stolen reason=fraudulent/.test(
          l,
        ),
      ),
      log.lines.join('\n'),
    );

    // The next month's invoice: the stolen card is still the one on file.
    await later('fb-2', 'acct-fb', '10.00', '2026-11');
    const report = await pass();
    assert.deepEqual([report.charged, report.pastDue], [0, 1]);
    assert.equal(chargesTo('pm_ok_fb_stolen'), 1, 'never charged again');
    assert.ok(!gateway.sent.includes('fb-2'), 'nothing sent to the gateway for it');
    assert.equal(await statusOf(db.pool, 'fb-2'), 'past_due');
    const row = await chargeRow(db.pool, 'fb-2');
    assert.deepEqual([row?.state, row?.last_error_code, row?.payment_intent_id], ['past_due', 'card_reported_fraudulent', null]);

    // Told as what it is, and the customer asked for another card.
    const { rows: told } = await db.pool.query<{ event: NoticeEvent }>(
      `select event from invoicing.notices where type = 'invoice.past_due' and event->>'subject' = 'fb-2'`,
    );
    assert.equal(told.length, 1);
    assert.equal(told[0]!.event.data.reason, 'card_reported_fraudulent');
    const email = emailFor(told[0]!.event, { invoicingUrl: 'https://billing.example.test' });
    assert.match(email?.text ?? '', /past due: your bank reported a payment on your card on file as unauthorised/);
    assert.match(email?.text ?? '', /Add another card on the card form/);
    // The invoice page says the same, from the charge row.
    const seen = { id: 'fb-2', status: 'past_due', total: '10.00', currency: 'USD', amount_refunded: '0.00' } as const;
    const page = paymentState(seen, row as unknown as PaymentRow);
    assert.equal(page.kind === 'past_due' && page.why, 'card_blocked');
    assert.match(
      paymentWords(seen as unknown as Invoice, page).toString(),
      /your bank reported a payment on your card on file as unauthorised, so we will not charge that card again[\s\S]*Add another payment card/,
    );

    // Later passes leave it alone (not even read as a candidate): still past due, nothing sent.
    const sent = gateway.sent.length;
    assert.equal((await pass()).charged, 0);
    assert.equal(gateway.sent.length, sent);
    assert.match(log.lines.filter((l) => l.includes('event=charging.pass ')).at(-1) ?? '', /count#charging\.candidates=0 /);

    // The dispute won: the money is back, the card stays blocked (the operator may delete the row).
    await deliver(disputeEvent('evt_fb_1_won', 'reinstated', 'dp_fb_1', intent, 5258));
    await later('fb-3', 'acct-fb', '11.00', '2026-12');
    await pass();
    assert.equal(chargesTo('pm_ok_fb_stolen'), 1);
    assert.equal(await statusOf(db.pool, 'fb-3'), 'past_due');
    assert.equal((await blocked('acct-fb')).length, 1);

    // A new card (another payment method) on cc-forms' form: charged at once, both invoices paid.
    await putCard(db.pool, 'acct-fb', 'pm_ok_fb_new');
    const after = await pass();
    assert.equal(after.paid, 2);
    assert.deepEqual([await statusOf(db.pool, 'fb-2'), await statusOf(db.pool, 'fb-3')], ['paid', 'paid']);
    assert.equal(chargesTo('pm_ok_fb_new'), 2);
    assert.equal(chargesTo('pm_ok_fb_stolen'), 1);
  });

  test('a chargeback for another reason (product_not_received) does not block the card: the next invoice is charged to it; a fraudulent one then does', async () => {
    await putCard(db.pool, 'acct-pnr', 'pm_ok_pnr');
    const intent = await paidInvoice('pnr-1', 'acct-pnr');
    await deliver(disputeEvent('evt_pnr_1', 'withdrawn', 'dp_pnr_1', intent, 5258, 'product_not_received'));
    assert.deepEqual(await blocked('acct-pnr'), []);
    const second = await paidInvoice('pnr-2', 'acct-pnr', '2026-11');
    assert.equal(chargesTo('pm_ok_pnr'), 2);

    await deliver(disputeEvent('evt_pnr_2', 'withdrawn', 'dp_pnr_2', second, 5258));
    assert.deepEqual(await blocked('acct-pnr'), [{ payment_method_id: 'pm_ok_pnr', dispute_id: 'dp_pnr_2', reason: 'fraudulent' }]);
    await later('pnr-3', 'acct-pnr', '10.00', '2026-12');
    await pass();
    assert.equal(await statusOf(db.pool, 'pnr-3'), 'past_due');
    assert.equal(chargesTo('pm_ok_pnr'), 2);
  });

  test('the same fraudulent withdrawal twice (a redelivery, a copy under a new id, another dispute of the card) blocks it once', async () => {
    await putCard(db.pool, 'acct-twice', 'pm_ok_twice');
    const intent = await paidInvoice('tw-1', 'acct-twice');
    const event = disputeEvent('evt_tw_1', 'withdrawn', 'dp_tw_1', intent, 2000);
    assert.deepEqual(await deliver(event), { received: true, duplicate: false });
    assert.deepEqual(await deliver(event), { received: true, duplicate: true });
    assert.deepEqual(await deliver({ ...event, id: 'evt_tw_1_copy' }), { received: true, duplicate: false });
    assert.deepEqual(await deliver(disputeEvent('evt_tw_2', 'withdrawn', 'dp_tw_2', intent, 3258)), { received: true, duplicate: false });
    assert.deepEqual(await blocked('acct-twice'), [{ payment_method_id: 'pm_ok_twice', dispute_id: 'dp_tw_1', reason: 'fraudulent' }]);
    assert.equal(log.lines.filter((l) => l.includes('event=charge.card_blocked ') && l.includes('payment_method=pm_ok_twice')).length, 1);
    await later('tw-2', 'acct-twice', '10.00', '2026-11');
    await pass();
    assert.equal(await statusOf(db.pool, 'tw-2'), 'past_due');
    assert.equal(chargesTo('pm_ok_twice'), 1);
  });

  test('a stray payment charged back as fraud blocks its card: once the gateway gives the money back, the release does not charge the card again', async () => {
    await insertInvoice(db.pool, { id: 'st-1', account: 'acct-st', total: '52.58' });
    await putCard(db.pool, 'acct-st', 'pm_ok_st');
    // Its PaymentIntent changed at the gateway before the confirm: 0.50 charged, held as stray.
    gateway.beforeSend = async (invoiceId) => {
      const intent = [...gateway.intents.values()].find((i) => i.invoiceId === invoiceId && i.status === 'requires_payment_method');
      if (invoiceId === 'st-1' && intent) gateway.updatedAtGateway(intent.id, { amount: 50 });
    };
    await pass();
    gateway.beforeSend = undefined;
    const row = await chargeRow(db.pool, 'st-1');
    assert.equal(row?.last_error_code, 'stray_payment');
    const stray = row?.payment_intent_id as string;

    await deliver(disputeEvent('evt_st_1', 'withdrawn', 'dp_st_1', stray, 50));
    assert.deepEqual(await blocked('acct-st'), [{ payment_method_id: 'pm_ok_st', dispute_id: 'dp_st_1', reason: 'fraudulent' }]);
    // The bank wins it: the stray's money is back with the cardholder, and the invoice is let go.
    gateway.disputedAtGateway(stray, 'dp_st_1', 50, 'lost');
    await pass();
    assert.equal(gateway.succeededCharges('st-1'), 1, 'only the charged-back 0.50');
    assert.equal(await statusOf(db.pool, 'st-1'), 'past_due');
    assert.equal((await chargeRow(db.pool, 'st-1'))?.last_error_code, 'card_reported_fraudulent');
  });
});
