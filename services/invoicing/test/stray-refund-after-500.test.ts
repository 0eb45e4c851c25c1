// `vault refund-stray`'s refund answered a 500, against the real sandbox (its 500 injected by the
// test-only faultAfterWork switch: the refund rolled back, the 500 kept under the key and replayed
// for a day, as Stripe does). The refund's key is built from the payment's state, and a 500 changes
// no state: before, every run sent that key again and got the 500 back for a day, the stray's money
// not given back. Now the refund the failed request may have made is looked for (its key in its
// metadata) and used; none, a new key is stored before it is sent. Never two refunds for one state.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import type { Sandbox } from '../../gateway-sandbox/test/harness.ts';
import { chargePass } from '../src/charging/charger.ts';
import { chargeGateway, type ChargeGateway } from '../src/charging/gateway-calls.ts';
import { REFUND_KEY, type RefundGateway, refundGateway } from '../src/charging/refund-gateway.ts';
import { refundStray } from '../src/charging/stray-refund.ts';
import { refundKey } from '../src/charging/stray-refund-answer.ts';
import { chargeRow, insertInvoice, putCard, statusOf } from './charging-fixture.ts';
import { closeFaultySandbox, type Fault, faultySandbox } from './sandbox-fault-fixture.ts';

describe("a stray payment's refund answered 500 (real sandbox, real PostgreSQL)", () => {
  let sb: Sandbox;
  let db: TestDatabase;
  /** Requests to a path `fault.once` matches fail once with an injected 500. */
  const fault: Fault = { once: null };
  before(async () => {
    ({ sb, db } = await faultySandbox(fault));
  });
  after(() => closeFaultySandbox(sb, db));

  const charging = (): ChargeGateway => chargeGateway(sb.stripe);
  const pass = (gateway = charging()) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: [60], log: memoryLogger(), now: () => new Date() });
  /** vault refund-stray's refund, through `refunds` (the real one unless a test wraps it). */
  const refund = (id: string, refunds: RefundGateway = refundGateway(sb.stripe)) => {
    const log = memoryLogger();
    return { log, result: refundStray({ pool: db.pool, gateway: { ...charging(), ...refunds }, log }, id) };
  };

  /** An invoice of 25.00 whose PaymentIntent was made for 10.00 (changed at the gateway) and paid: stray. */
  async function strayOf(id: string): Promise<{ stray: string; customer: string }> {
    const customer = await sb.stripe.customers.create({ metadata: { account_id: `acct-${id}` } });
    const pm = await sb.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    await putCard(db.pool, `acct-${id}`, pm.id, customer.id);
    await insertInvoice(db.pool, { id, account: `acct-${id}`, total: '25.00' });
    const gateway = charging();
    await pass({ ...gateway, createPaymentIntent: (p) => gateway.createPaymentIntent({ ...p, amount: 1000 }) });
    const row = await chargeRow(db.pool, id);
    assert.equal(row?.last_error_code, 'stray_payment');
    return { stray: row!.payment_intent_id as string, customer: customer.id };
  }
  /** The key of a stray's first refund: nothing given back yet. */
  const firstKey = (stray: string) => refundKey(stray, 0, { refunded: 0, chargedBack: 0 });
  const refundsOf = async (stray: string) => (await sb.stripe.refunds.list({ payment_intent: stray, limit: 100 })).data;
  const storedKey = async (base: string) =>
    (
      await db.pool.query<{ idempotency_key: string }>('select idempotency_key from invoicing.stray_refund_keys where base_key = $1', [
        base,
      ])
    ).rows[0]?.idempotency_key;
  /** The keys the sandbox keeps for refunds, with the status it answered each. */
  const sandboxKeys = async (stray: string) =>
    (
      await sb.db.pool.query<{ key: string; status: number }>(
        `select key, status from gateway_sandbox.idempotency_keys where path = '/v1/refunds' and key like $1 order by created_at`,
        [`stray-refund:${stray}:%`],
      )
    ).rows.map((k) => [k.key, k.status]);

  test('the refund answered 500, nothing made: refunded at once under a new key, stored before it was sent; released, 25.00 charged once', async () => {
    const { stray, customer } = await strayOf('inv-sr500-none');
    fault.once = /^\/v1\/refunds$/;
    const { result, log } = refund('inv-sr500-none');
    const made = await result;
    assert.equal(made.outcome, 'refunded', made.message);
    assert.equal(made.outcome === 'refunded' && made.amount, '10.00');

    const base = firstKey(stray);
    const renewed = await storedKey(base);
    assert.ok(renewed && renewed !== base, 'a new key stored for the state');
    assert.deepEqual(await sandboxKeys(stray), [
      [base, 500],
      [renewed, 200],
    ]);
    const refunds = await refundsOf(stray);
    assert.deepEqual(
      refunds.map((r) => [r.amount, r.metadata?.[REFUND_KEY]]),
      [[1000, renewed]],
    );
    assert.ok(log.lines.some((l) => l.includes(`event=charge.key_renewed invoice_id=inv-sr500-none payment_intent=${stray}`)));

    // Given back: the pass lets it go and charges 25.00 once.
    await pass();
    assert.equal(await statusOf(db.pool, 'inv-sr500-none'), 'paid');
    const charged = (await sb.stripe.charges.list({ customer, limit: 100 })).data.map((c) => [c.amount, c.amount_refunded]);
    assert.deepEqual(charged.sort(), [
      [1000, 1000],
      [2500, 0],
    ]);
  });

  test('the refund answered 500 after it was made: that refund (its key in its metadata) is the answer, nothing refunded twice', async () => {
    const { stray } = await strayOf('inv-sr500-made');
    const real = refundGateway(sb.stripe);
    let madeByThe500 = '';
    // What a 500 after the commit leaves at the gateway: the refund, carrying the key it was sent under.
    const afterCommit: RefundGateway = {
      ...real,
      async refund(r) {
        fault.once = /^\/v1\/refunds$/;
        const answer = await real.refund(r);
        const made = await sb.stripe.refunds.create(
          { payment_intent: r.paymentIntentId, amount: r.amount, metadata: { ...r.metadata, [REFUND_KEY]: r.idempotencyKey } },
          { idempotencyKey: 'made-by-the-500' },
        );
        madeByThe500 = made.id;
        return answer;
      },
    };
    const { result, log } = refund('inv-sr500-made', afterCommit);
    const made = await result;
    assert.equal(made.outcome, 'refunded', made.message);
    assert.equal(made.outcome === 'refunded' && made.refundId, madeByThe500);
    assert.equal((await refundsOf(stray)).length, 1);
    assert.equal(await storedKey(firstKey(stray)), undefined, 'no new key');
    assert.ok(log.lines.some((l) => l.includes(`event=charge.stray_refund_found invoice_id=inv-sr500-made payment_intent=${stray}`)));

    // Run again: given back, nothing sent.
    const again = await refund('inv-sr500-made').result;
    assert.equal(again.outcome === 'refused' && again.reason, 'given_back', again.message);
    assert.equal((await refundsOf(stray)).length, 1);
  });

  test('killed after the new key was stored, before it was sent: the next run sends that key, not a third; one refund', async () => {
    const { stray } = await strayOf('inv-sr500-killed');
    const real = refundGateway(sb.stripe);
    let sends = 0;
    const killedAtSecond: RefundGateway = {
      ...real,
      async refund(r) {
        if (++sends === 2) throw new Error('killed');
        fault.once = /^\/v1\/refunds$/;
        return real.refund(r);
      },
    };
    await assert.rejects(refund('inv-sr500-killed', killedAtSecond).result, /killed/);
    const base = firstKey(stray);
    const renewed = await storedKey(base);
    assert.ok(renewed && renewed !== base);
    assert.equal((await refundsOf(stray)).length, 0);

    const made = await refund('inv-sr500-killed').result;
    assert.equal(made.outcome, 'refunded', made.message);
    assert.deepEqual(await sandboxKeys(stray), [
      [base, 500],
      [renewed, 200],
    ]);
    assert.deepEqual(
      (await refundsOf(stray)).map((r) => r.metadata?.[REFUND_KEY]),
      [renewed],
    );
  });

  test('the refunds unreadable after the 500: no new key, said unanswered (run it again); the next run looks, renews and refunds once', async () => {
    const { stray } = await strayOf('inv-sr500-unread');
    const real = refundGateway(sb.stripe);
    let refused = false;
    const listDown: RefundGateway = {
      ...real,
      async refund(r) {
        fault.once = /^\/v1\/refunds$/;
        refused = true;
        return real.refund(r);
      },
      listRefunds: async (pi, charge) =>
        refused ? { error: { kind: 'unanswered', code: 'api_connection_error', message: 'down' } } : real.listRefunds(pi, charge),
    };
    const first = await refund('inv-sr500-unread', listDown).result;
    assert.equal(first.outcome === 'refused' && first.reason, 'unanswered', first.message);
    assert.match(first.message, /the refund of .+ \(api_error \(HTTP 500\)\); run it again: it refunds only what is not back yet$/);
    assert.equal(await storedKey(firstKey(stray)), undefined, 'the key stands while the gateway has not said');

    const second = await refund('inv-sr500-unread').result;
    assert.equal(second.outcome, 'refunded', second.message);
    assert.equal((await refundsOf(stray)).length, 1);
  });

  test('a key first sent with other parameters (before refunds carried their key, a 500 kept under it): a new key; one refund', async () => {
    const { stray } = await strayOf('inv-sr500-params');
    fault.once = /^\/v1\/refunds$/;
    await assert.rejects(
      sb.stripe.refunds.create(
        { payment_intent: stray, amount: 1000, metadata: { invoice_id: 'inv-sr500-params', reason: 'stray_payment' } },
        { idempotencyKey: firstKey(stray) },
      ),
      { statusCode: 500 },
    );
    const made = await refund('inv-sr500-params').result;
    assert.equal(made.outcome, 'refunded', made.message);
    assert.equal((await refundsOf(stray)).length, 1);
  });
});
