import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass, type ChargerDeps } from '../src/charging/charger.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, putCard, statusOf } from './charging-fixture.ts';

describe('a charging pass (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  let clock = new Date('2026-11-05T00:00:00Z');
  const tick = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  const pass = (gateway: FakeGateway, over: Partial<ChargerDeps> = {}) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: [60, 120], log: memoryLogger(), now: () => clock, ...over });

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db.drop());

  test('a card that works: the first pass pays the invoice in one attempt; the next pass does nothing', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'ok-1', account: 'acct-ok', total: '52.58' });
    await putCard(db.pool, 'acct-ok', 'pm_ok_1');
    const log = memoryLogger();
    const report = await pass(gateway, { log });
    assert.deepEqual(report, { charged: 1, paid: 1, declined: 0, pastDue: 0, noCard: 0, errors: 0 });
    assert.equal(await statusOf(db.pool, 'ok-1'), 'paid');
    assert.deepEqual(gateway.sent, ['ok-1', 'ok-1:attempt:1']);
    assert.equal([...gateway.intents.values()][0]!.amount, 5258);
    const row = await chargeRow(db.pool, 'ok-1');
    assert.deepEqual([row?.state, row?.attempts, row?.pending_payment_method_id, row?.next_attempt_at], ['paid', 1, null, null]);
    assert.ok(
      log.lines.some((l) =>
        /event=charge\.attempt invoice_id=ok-1 attempt=1 step=confirm outcome=succeeded .*count#charges\.succeeded=1/.test(l),
      ),
      log.lines.join('\n'),
    );
    assert.ok(log.lines.some((l) => /event=charging\.pass .*count#charges\.paid=1/.test(l)));
    assert.deepEqual(await pass(gateway), { charged: 0, paid: 0, declined: 0, pastDue: 0, noCard: 0, errors: 0 });
    assert.equal(gateway.sent.length, 2);
  });

  test('a declined card is retried after each wait of the schedule and is past_due after the third decline', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'dec-1', account: 'acct-dec', total: '10.00' });
    await putCard(db.pool, 'acct-dec', 'pm_decline_1');
    const dlog = memoryLogger();
    assert.equal((await pass(gateway, { log: dlog })).declined, 1, dlog.lines.join('\n'));
    const first = await chargeRow(db.pool, 'dec-1');
    assert.deepEqual([first?.state, first?.attempts, first?.last_decline_code], ['scheduled', 1, 'generic_decline']);
    assert.equal((first!.next_attempt_at as Date).getTime(), clock.getTime() + 60_000);
    tick(59);
    assert.equal((await pass(gateway)).charged, 0, 'not before the first wait');
    tick(1);
    assert.equal((await pass(gateway)).declined, 1);
    assert.equal(await statusOf(db.pool, 'dec-1'), 'finalized');
    tick(120);
    const last = await pass(gateway);
    assert.deepEqual([last.declined, last.pastDue], [1, 1]);
    assert.equal(await statusOf(db.pool, 'dec-1'), 'past_due');
    tick(10_000);
    assert.equal((await pass(gateway)).charged, 0, 'past_due waits for another card');
    assert.deepEqual(
      gateway.sent.filter((k) => k.startsWith('dec-1')),
      ['dec-1', 'dec-1:attempt:1', 'dec-1:attempt:2', 'dec-1:attempt:3'],
    );
    assert.equal(gateway.charges.filter((c) => !c.ok).length, 3);

    await putCard(db.pool, 'acct-dec', 'pm_ok_2');
    assert.equal((await pass(gateway)).paid, 1, 'another card is charged at once');
    assert.equal(await statusOf(db.pool, 'dec-1'), 'paid');
    assert.equal(gateway.sent.at(-1), 'dec-1:attempt:4');
  });

  test('a payment the cardholder confirmed after 3-D Secure, its webhook never delivered, is found at the end of the window: paid, never past_due', async () => {
    // Confirms with pm_3ds* ask for the cardholder, as a bank asking for 3-D Secure does.
    const gateway = new (class extends FakeGateway {
      override async confirm(c: Parameters<FakeGateway['confirm']>[0]) {
        if (!c.paymentMethodId.startsWith('pm_3ds')) return super.confirm(c);
        return { kind: 'action_required' as const, code: 'authentication_required', message: 'This transaction requires authentication.' };
      }
    })();
    await insertInvoice(db.pool, { id: 'tds-1', account: 'acct-tds', total: '52.58' });
    await putCard(db.pool, 'acct-tds', 'pm_3ds_1');
    await pass(gateway);
    assert.equal(await statusOf(db.pool, 'tds-1'), 'action_required');
    const intent = (await chargeRow(db.pool, 'tds-1'))?.payment_intent_id as string;
    gateway.confirmedByCardholder(intent);
    tick(100_000);
    const report = await pass(gateway);
    assert.deepEqual([report.paid, report.pastDue], [1, 0]);
    assert.equal(await statusOf(db.pool, 'tds-1'), 'paid');
    const { rows } = await db.pool.query(`select type from invoicing.notices where account_id = 'acct-tds' order by seq`);
    assert.deepEqual(
      rows.map((r) => r.type),
      ['invoice.action_required', 'invoice.paid'],
    );
  });

  test('a create the gateway refuses (its customer gone) spends the attempt on the schedule to past_due, under a new key each time; another card is then charged', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'gone-1', account: 'acct-gone', total: '12.00' });
    await putCard(db.pool, 'acct-gone', 'pm_ok_gone');
    gateway.refuseCreates = { kind: 'refused', code: 'resource_missing', message: "No such customer: 'cus_gone'" };
    const keyOf = async () => (await chargeRow(db.pool, 'gone-1'))?.idempotency_key as string;
    assert.equal((await pass(gateway)).charged, 1);
    const first = await chargeRow(db.pool, 'gone-1');
    assert.deepEqual(
      [first?.state, first?.attempts, first?.pending_payment_method_id, first?.payment_intent_id, first?.last_error_code],
      ['scheduled', 1, null, null, 'resource_missing'],
    );
    assert.notEqual(await keyOf(), gateway.keys[0], 'a new key for the next create');
    tick(60);
    await pass(gateway);
    tick(120);
    assert.equal((await pass(gateway)).pastDue, 1);
    assert.equal(await statusOf(db.pool, 'gone-1'), 'past_due');
    assert.equal(new Set(gateway.keys).size, 3, 'three creates, three keys');
    // Told as what it is: not the card's decline (the customer's email and page follow the notice).
    const { rows: told } = await db.pool.query(
      `select event->'data'->>'reason' as reason from invoicing.notices where type = 'invoice.past_due' and account_id = 'acct-gone'`,
    );
    assert.deepEqual(told, [{ reason: 'refused' }]);
    // The customer puts another card on file (a new gateway customer): charged at once.
    gateway.refuseCreates = undefined;
    await putCard(db.pool, 'acct-gone', 'pm_ok_again');
    assert.equal((await pass(gateway)).paid, 1);
    assert.equal(await statusOf(db.pool, 'gone-1'), 'paid');
  });

  test('no card on file: past_due at once; once a card is added the next pass charges it', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'nocard-1', account: 'acct-nocard', total: '7.00' });
    const report = await pass(gateway);
    assert.deepEqual([report.pastDue, report.noCard, report.charged], [1, 1, 0]);
    assert.equal(await statusOf(db.pool, 'nocard-1'), 'past_due');
    assert.equal((await chargeRow(db.pool, 'nocard-1'))?.last_error_code, 'no_card_on_file');
    assert.equal((await pass(gateway)).pastDue, 0, 'said once');
    await putCard(db.pool, 'acct-nocard', 'pm_ok_3');
    assert.equal((await pass(gateway)).paid, 1);
    assert.equal(await statusOf(db.pool, 'nocard-1'), 'paid');
    assert.deepEqual(gateway.sent, ['nocard-1', 'nocard-1:attempt:1']);
  });

  test('a total of zero or less is never charged nor made past_due', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'zero-1', account: 'acct-zero', total: '0.00' });
    await insertInvoice(db.pool, { id: 'credit-1', account: 'acct-credit', total: '-3.61' });
    await putCard(db.pool, 'acct-zero', 'pm_ok_4');
    await pass(gateway);
    assert.deepEqual(gateway.sent, []);
    assert.deepEqual([await statusOf(db.pool, 'zero-1'), await statusOf(db.pool, 'credit-1')], ['finalized', 'finalized']);
    assert.equal(await chargeRow(db.pool, 'zero-1'), undefined);
  });

  test('an answer lost after the gateway acted: the next pass sends the same keys and records the first answers; one charge', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'lost-1', account: 'acct-lost', total: '25.00' });
    await putCard(db.pool, 'acct-lost', 'pm_decline_lost');
    gateway.loseAnswers = true;
    assert.equal((await pass(gateway)).errors, 1, 'the PaymentIntent was made, its answer lost');
    // The row (its key, its card) was written before the create; no PaymentIntent is recorded.
    const first = await chargeRow(db.pool, 'lost-1');
    assert.deepEqual([first?.payment_intent_id, first?.pending_payment_method_id, first?.attempts], [null, 'pm_decline_lost', 0]);
    gateway.loseAnswers = false;
    assert.equal((await pass(gateway)).declined, 1);
    // The decline is recorded once; lose the second attempt's answer too.
    tick(60);
    gateway.loseAnswers = true;
    assert.equal((await pass(gateway)).errors, 1);
    const pending = await chargeRow(db.pool, 'lost-1');
    assert.deepEqual(
      [pending?.attempts, pending?.pending_payment_method_id, pending?.last_error_code],
      [1, 'pm_decline_lost', 'StripeConnectionError'],
    );
    // The customer changes card meanwhile: the pending attempt still goes out as it was first sent.
    await putCard(db.pool, 'acct-lost', 'pm_ok_lost');
    gateway.loseAnswers = false;
    assert.equal((await pass(gateway)).declined, 1, 'attempt 2 replayed: the same decline');
    assert.equal((await pass(gateway)).paid, 1, 'then the new card, at once');
    assert.deepEqual(gateway.sent, ['lost-1', 'lost-1', 'lost-1:attempt:1', 'lost-1:attempt:2', 'lost-1:attempt:2', 'lost-1:attempt:3']);
    assert.equal(gateway.intents.size, 1);
    assert.deepEqual(
      gateway.charges.map((c) => [c.paymentMethod, c.ok]),
      [
        ['pm_decline_lost', false],
        ['pm_decline_lost', false],
        ['pm_ok_lost', true],
      ],
    );
  });

  test('a PaymentIntent a replayed create made is recorded before its confirm is sent (a process killed after the confirm still finds it)', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'replay-1', account: 'acct-replay', total: '8.00' });
    await putCard(db.pool, 'acct-replay', 'pm_ok_replay');
    gateway.loseAnswers = true;
    await pass(gateway);
    assert.equal((await chargeRow(db.pool, 'replay-1'))?.payment_intent_id, null, 'the create was made, its answer lost');
    gateway.loseAnswers = false;
    gateway.crashConfirms = true;
    await pass(gateway);
    const [intent] = [...gateway.intents.values()].filter((i) => i.invoiceId === 'replay-1');
    assert.equal(intent?.status, 'succeeded', 'the card was charged; its answer lost');
    assert.equal((await chargeRow(db.pool, 'replay-1'))?.payment_intent_id, intent.id, "recorded: the payment's webhook finds it");
    gateway.crashConfirms = false;
    assert.equal((await pass(gateway)).paid, 1);
    assert.equal(gateway.charges.filter((c) => c.intent === intent.id).length, 1, 'one charge');
  });

  test("the PaymentIntent's key is random, stored on the charge row before the create, and kept by its replay and attempts", async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'key-1', account: 'acct-key', total: '4.00' });
    await putCard(db.pool, 'acct-key', 'pm_ok_key');
    gateway.down = true;
    await pass(gateway);
    const stored = (await chargeRow(db.pool, 'key-1'))?.idempotency_key as string;
    assert.match(stored, /^pi-[0-9a-f]{32}$/, 'written before the create, which got no answer');
    assert.deepEqual(gateway.keys, [stored], 'the create went out under the stored key, not the invoice id');
    gateway.down = false;
    assert.equal((await pass(gateway)).paid, 1);
    assert.deepEqual(gateway.keys, [stored, stored, `${stored}:attempt:1`]);
    assert.equal((await chargeRow(db.pool, 'key-1'))?.idempotency_key, stored, 'never changed');
  });

  test('the gateway down: nothing but the error is recorded, and the same attempt is sent when it is back', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'down-1', account: 'acct-down', total: '1.00' });
    await putCard(db.pool, 'acct-down', 'pm_ok_down');
    gateway.down = true;
    const log = memoryLogger();
    assert.equal((await pass(gateway, { log })).errors, 1);
    assert.ok(
      log.lines.some((l) => l.includes('at=warn event=charge.attempt invoice_id=down-1 attempt=1 step=create outcome=unanswered')),
      log.lines.join('\n'),
    );
    gateway.down = false;
    assert.equal((await pass(gateway)).paid, 1);
    assert.deepEqual(gateway.sent, ['down-1', 'down-1', 'down-1:attempt:1']);
  });

  test('two passes at once (say two processes) take turns: every attempt is sent once', async () => {
    const gateway = new FakeGateway();
    for (let i = 0; i < 6; i++) {
      await insertInvoice(db.pool, { id: `both-${i}`, account: `acct-both-${i}`, total: '3.00' });
      await putCard(db.pool, `acct-both-${i}`, i % 2 ? 'pm_ok_both' : 'pm_decline_both');
    }
    const reports = await Promise.all([pass(gateway), pass(gateway), pass(gateway)]);
    assert.equal(
      reports.reduce((n, r) => n + r.charged, 0),
      6,
    );
    const keys = gateway.sent.filter((k) => k.includes(':attempt:'));
    assert.equal(new Set(keys).size, keys.length, keys.join(' '));
    assert.equal(keys.length, 6);
  });

  test('an invoice marked paid meanwhile (a webhook) is not charged again, and paid is never undone', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'hook-1', account: 'acct-hook', total: '9.99' });
    await putCard(db.pool, 'acct-hook', 'pm_decline_hook');
    await pass(gateway);
    await db.pool.query(`update invoicing.invoices set status = 'paid' where id = 'hook-1'`);
    tick(60);
    await pass(gateway);
    assert.deepEqual(
      gateway.sent.filter((k) => k.startsWith('hook-1')),
      ['hook-1', 'hook-1:attempt:1'],
    );
    assert.equal(await statusOf(db.pool, 'hook-1'), 'paid');
  });

  test('a finalized invoice still refuses any change but its status', async () => {
    await assert.rejects(db.pool.query(`update invoicing.invoices set total = 1 where id = 'ok-1'`), /a finalized invoice never changes/);
  });

  test('a confirm answered 500 is not sent again under its key (the gateway keeps the 500 for a day): the PaymentIntent is read, then paid or confirmed under a new key', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'err-1', account: 'acct-err-1', total: '10.00' });
    await putCard(db.pool, 'acct-err-1', 'pm_ok_err_1');
    gateway.serverErrors = 'before';
    assert.equal((await pass(gateway)).errors, 1, 'a 500: no answer');
    const stored = gateway.keys.at(-1)!;
    gateway.serverErrors = undefined;
    assert.equal((await pass(gateway)).paid, 1, 'the PaymentIntent unpaid: confirmed again under a new key, and paid');
    assert.notEqual(gateway.keys.at(-1), stored);
    assert.equal(gateway.succeededCharges('err-1'), 1);

    // The 500 came after the charge went through: the PaymentIntent says paid, nothing is sent again.
    await insertInvoice(db.pool, { id: 'err-2', account: 'acct-err-2', total: '10.00' });
    await putCard(db.pool, 'acct-err-2', 'pm_ok_err_2');
    gateway.serverErrors = 'after';
    assert.equal((await pass(gateway)).errors, 1);
    const sent = gateway.sent.length;
    assert.equal((await pass(gateway)).paid, 1);
    assert.equal(gateway.sent.length, sent, 'read, not confirmed again');
    assert.equal(await statusOf(db.pool, 'err-2'), 'paid');
    assert.equal(gateway.succeededCharges('err-2'), 1, 'charged once');
  });

  test('a 5xx after a decline of the same card is not read as that decline (the PaymentIntent keeps it as its last error): the attempt is sent again under a new key', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'err-3', account: 'acct-err-3', total: '10.00' });
    await putCard(db.pool, 'acct-err-3', 'pm_decline_err_3');
    assert.equal((await pass(gateway)).declined, 1, 'attempt 1 declined');
    tick(60);
    gateway.serverErrors = 'before';
    assert.equal((await pass(gateway)).errors, 1, 'attempt 2: a 500 that did nothing');
    gateway.serverErrors = undefined;
    const [sent, stored] = [gateway.sent.length, gateway.keys.at(-1)];
    await pass(gateway);
    assert.deepEqual(gateway.sent.slice(sent), ['err-3:attempt:2'], 'attempt 2 sent again, not recorded from the old decline');
    assert.notEqual(gateway.keys.at(-1), stored);
    assert.equal(gateway.charges.filter((c) => c.paymentMethod === 'pm_decline_err_3').length, 2, 'two confirms executed');
  });

  test('killed after a confirm under the renewed key ran: the next pass sends that same key again, never a second confirm', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'err-5', account: 'acct-err-5', total: '10.00' });
    await putCard(db.pool, 'acct-err-5', 'pm_decline_err_5');
    gateway.serverErrors = 'before';
    await pass(gateway);
    gateway.serverErrors = undefined;
    gateway.crashConfirms = true;
    await pass(gateway);
    gateway.crashConfirms = false;
    assert.equal((await pass(gateway)).declined, 1, "the renewed key's stored decline recorded");
    const keys = gateway.keys.filter((_, i) => gateway.sent[i] === 'err-5:attempt:1');
    assert.deepEqual([keys.length, new Set(keys).size], [3, 2], 'the 500, then the renewed key twice');
    assert.equal(gateway.charges.filter((c) => c.paymentMethod === 'pm_decline_err_5').length, 1, 'the card confirmed once');
  });

  // Last: its invoices stay chargeable (a decline on the schedule), which would count in the passes of tests after it.
  test('a confirm left processing is not sent again (its key would answer the same for a day): the PaymentIntent says how it ended, paid or declined', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'proc-1', account: 'acct-proc-1', total: '10.00' });
    await insertInvoice(db.pool, { id: 'proc-2', account: 'acct-proc-2', total: '10.00' });
    await putCard(db.pool, 'acct-proc-1', 'pm_processing_1');
    await putCard(db.pool, 'acct-proc-2', 'pm_processing_2');
    assert.equal((await pass(gateway)).errors, 2, 'processing: no answer yet');
    const sent = gateway.sent.length;
    const intentOf = async (invoice: string) => (await chargeRow(db.pool, invoice))!.payment_intent_id as string;
    assert.equal((await pass(gateway)).errors, 2, 'still processing: the next pass waits');
    assert.equal(gateway.sent.length, sent, 'nothing sent again');

    gateway.processingEnds(await intentOf('proc-1'), 'succeeded');
    gateway.processingEnds(await intentOf('proc-2'), { failedWith: 'pm_processing_2' });
    const report = await pass(gateway);
    assert.deepEqual([report.paid, report.declined], [1, 1]);
    assert.equal(gateway.sent.length, sent, 'still nothing sent again: the PaymentIntents were looked at');
    assert.equal(await statusOf(db.pool, 'proc-1'), 'paid');
    const declined = await chargeRow(db.pool, 'proc-2');
    assert.deepEqual(
      [declined?.state, declined?.attempts, declined?.last_decline_code, declined?.pending_payment_method_id],
      ['scheduled', 1, 'insufficient_funds', null],
      'the processing attempt ended declined: spent, the next on the schedule with a new key',
    );
  });

  test("a processing attempt soft-declined (decline_code authentication_required) asks for the cardholder, as a confirm's soft decline does: not a decline", async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'proc-5', account: 'acct-proc-5', total: '10.00' });
    await putCard(db.pool, 'acct-proc-5', 'pm_processing_5');
    await pass(gateway);
    const intent = (await chargeRow(db.pool, 'proc-5'))!.payment_intent_id as string;
    gateway.processingEnds(intent, { failedWith: 'pm_processing_5', declineCode: 'authentication_required' });
    assert.equal((await pass(gateway)).declined, 0);
    const row = await chargeRow(db.pool, 'proc-5');
    assert.deepEqual([row?.state, row?.payment_intent_id, row?.last_decline_code], ['action_required', intent, null]);
    assert.equal(await statusOf(db.pool, 'proc-5'), 'action_required');
  });

  test('a processing attempt whose PaymentIntent ends otherwise (canceled, or failed with another card) is sent again under a new key, never stuck', async () => {
    const gateway = new FakeGateway();
    await insertInvoice(db.pool, { id: 'proc-3', account: 'acct-proc-3', total: '10.00' });
    await insertInvoice(db.pool, { id: 'proc-4', account: 'acct-proc-4', total: '10.00' });
    await putCard(db.pool, 'acct-proc-3', 'pm_processing_3');
    await putCard(db.pool, 'acct-proc-4', 'pm_processing_4');
    await pass(gateway);
    const intentOf = async (invoice: string) => (await chargeRow(db.pool, invoice))!.payment_intent_id as string;
    gateway.processingEnds(await intentOf('proc-3'), 'canceled');
    // Another card's failure (say the cardholder's own, on our page) is not this attempt's.
    gateway.processingEnds(await intentOf('proc-4'), { failedWith: 'pm_someone_else' });
    const sent = gateway.sent.length;
    await pass(gateway);
    assert.deepEqual(gateway.sent.slice(sent).sort(), ['proc-3:attempt:1', 'proc-4:attempt:1'], 'each pending attempt sent again');
    // Under the same key the gateway would answer `processing` again for a day: the canceled one is
    // found canceled and let go, the other confirmed afresh.
    const proc3 = await chargeRow(db.pool, 'proc-3');
    assert.deepEqual([proc3?.payment_intent_id, proc3?.attempts], [null, 1], 'the canceled PaymentIntent let go, the attempt spent');
    const proc4 = await chargeRow(db.pool, 'proc-4');
    assert.equal(proc4?.last_decline_code, null, "no decline recorded from another card's error");
    assert.equal(gateway.charges.filter((c) => c.paymentMethod === 'pm_processing_4').length, 0, 'processing again: nothing charged');
    const proc4Keys = gateway.keys.filter((_, i) => gateway.sent[i] === 'proc-4:attempt:1');
    assert.equal(proc4Keys.length, 2);
    assert.notEqual(proc4Keys[0], proc4Keys[1], 'sent again under a new key');
  });
});
