// `vault refund-stray`'s refund as the gateway answers it (in-memory gateway, real PostgreSQL). A
// refund may fail after it was answered succeeded (Stripe: its status moves to `failed` and the
// charge's amount_refunded goes back down): run again, the refund must be made anew, under a key of
// its own; before, the key was built from the amounts alone, so it was the failed refund's, and the
// gateway replayed that first answer ("refunded", exit 0) while nothing went back and the invoice
// stayed held. A refund answered failed, canceled or requires_action is not said refunded; a pending
// one is said pending. Run again after a pass let the stray go, it is named as given back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import type { ListedIntent, MadeRefund, RefundGateway } from '../src/charging/refund-gateway.ts';
import { refundStray } from '../src/charging/stray-refund.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, putCard, statusOf } from './charging-fixture.ts';

/**
 * Refunds in memory over FakeGateway's PaymentIntents, as Stripe keeps them: an idempotency key's first
 * answer is replayed as it was then; a refund made (succeeded or pending) counts in its charge's
 * amount_refunded until it fails.
 */
class FakeRefunds implements RefundGateway {
  made: (MadeRefund & { paymentIntentId: string })[] = [];
  keys: string[] = [];
  /** How a new refund is answered. */
  answerWith: { status: string; failureReason?: string } = { status: 'succeeded' };
  private answers = new Map<string, MadeRefund>();

  constructor(private gateway: FakeGateway) {}

  async refund(r: { paymentIntentId: string; amount: number; idempotencyKey: string }): Promise<MadeRefund> {
    this.keys.push(r.idempotencyKey);
    const kept = this.answers.get(r.idempotencyKey);
    if (kept) return { ...kept };
    const made = { id: `re_${this.made.length + 1}`, amount: r.amount, ...this.answerWith };
    this.made.push({ ...made, paymentIntentId: r.paymentIntentId });
    if (made.status === 'succeeded' || made.status === 'pending') this.gateway.refundedAtGateway(r.paymentIntentId, r.amount);
    this.answers.set(r.idempotencyKey, { ...made });
    return made;
  }

  /** A refund answered succeeded fails later: its amount is back on the charge. */
  failsLater(id: string, failureReason: string): void {
    const refund = this.made.find((m) => m.id === id)!;
    Object.assign(refund, { status: 'failed', failureReason });
    this.gateway.refundedAtGateway(refund.paymentIntentId, -refund.amount);
  }

  async listRefunds(paymentIntentId: string): Promise<MadeRefund[]> {
    return this.made.filter((m) => m.paymentIntentId === paymentIntentId).map(({ paymentIntentId: _, ...m }) => m);
  }

  async listPaymentIntents(customerId: string): Promise<ListedIntent[]> {
    return [...this.gateway.intents.values()]
      .filter((i) => i.customerId === customerId)
      .map((i) => ({ id: i.id, status: i.status, invoiceId: i.invoiceId }));
  }
}

describe('the refund of a stray payment as the gateway answers it (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  const pass = (gateway: FakeGateway) => chargePass({ pool: db.pool, gateway, retrySchedule: [60], log: memoryLogger() });
  /** An invoice of 52.58 whose first confirm charged 0.50 (its PaymentIntent changed at the gateway): held, stray. */
  const strayInvoice = async (gateway: FakeGateway, id: string) => {
    await insertInvoice(db.pool, { id, account: `acct-${id}`, total: '52.58' });
    await putCard(db.pool, `acct-${id}`, `pm_ok_${id}`);
    gateway.beforeSend = async (invoiceId) => {
      const intent = [...gateway.intents.values()].find((i) => i.invoiceId === invoiceId && i.status === 'requires_payment_method');
      if (invoiceId === id && intent) gateway.updatedAtGateway(intent.id, { amount: 50 });
    };
    await pass(gateway);
    gateway.beforeSend = undefined;
    const row = await chargeRow(db.pool, id);
    assert.equal(row?.last_error_code, 'stray_payment');
    return row?.payment_intent_id as string;
  };
  const world = () => {
    const gateway = new FakeGateway();
    const refunds = new FakeRefunds(gateway);
    const log = memoryLogger();
    const deps = {
      pool: db.pool,
      gateway: {
        retrievePaymentIntent: gateway.retrievePaymentIntent.bind(gateway),
        listDisputes: gateway.listDisputes.bind(gateway),
        refund: refunds.refund.bind(refunds),
        listRefunds: refunds.listRefunds.bind(refunds),
        listPaymentIntents: refunds.listPaymentIntents.bind(refunds),
      },
      log,
    };
    return { gateway, refunds, log, deps };
  };

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db.drop());

  test('a refund that failed after it succeeded: run again, a new refund under a new key (not the first answer replayed); released; run again after, given back (exit 0)', async () => {
    const { gateway, refunds, log, deps } = world();
    const stray = await strayInvoice(gateway, 'sr-failed');

    const first = await refundStray(deps, 'sr-failed');
    assert.equal(first.outcome, 'refunded', first.message);
    assert.equal(first.outcome === 'refunded' && first.refundId, 're_1');
    refunds.failsLater('re_1', 'expired_or_canceled_card');
    // Its money back on the charge: the pass keeps the invoice held.
    await pass(gateway);
    assert.equal((await chargeRow(db.pool, 'sr-failed'))?.payment_intent_id, stray);

    const second = await refundStray(deps, 'sr-failed');
    assert.equal(second.outcome, 'refunded', second.message);
    assert.equal(second.outcome === 'refunded' && second.refundId, 're_2', 'a new refund, not the failed one replayed');
    assert.notEqual(refunds.keys[1], refunds.keys[0]);
    assert.deepEqual(
      refunds.made.map((m) => [m.id, m.status, m.amount]),
      [
        ['re_1', 'failed', 50],
        ['re_2', 'succeeded', 50],
      ],
    );
    assert.match(second.message, new RegExp(`^refunded 0\\.50 USD of ${stray} \\(the stray payment of invoice sr-failed\\): refund re_2`));
    assert.ok(
      log.lines.some((l) =>
        l.includes(`event=charge.stray_refunded invoice_id=sr-failed payment_intent=${stray} refund=re_2 status=succeeded`),
      ),
    );

    // Given back now: the pass lets it go and charges 52.58 anew.
    assert.equal((await pass(gateway)).paid, 1);
    assert.equal(await statusOf(db.pool, 'sr-failed'), 'paid');
    assert.notEqual((await chargeRow(db.pool, 'sr-failed'))?.payment_intent_id, stray);

    // Run again (a retrying script): given back, naming the stray let go; nothing refunded again.
    const again = await refundStray(deps, 'sr-failed');
    assert.equal(again.outcome === 'refused' && again.reason, 'given_back', again.message);
    assert.match(
      again.message,
      new RegExp(
        `^${stray} \\(the stray payment of invoice sr-failed, let go by a charging pass\\) is back with the cardholder already \\(refunded 0\\.50 USD, charged back 0\\.00 USD; disputes: no dispute\\)`,
      ),
    );
    assert.equal(refunds.made.length, 2);
  });

  test('a refund answered failed, canceled or requires_action is not refunded: refused naming its status and reason; held', async () => {
    for (const [status, failureReason] of [
      ['failed', 'lost_or_stolen_card'],
      ['canceled', undefined],
      ['requires_action', undefined],
    ] as const) {
      const { gateway, refunds, log, deps } = world();
      const id = `sr-answered-${status}`;
      const stray = await strayInvoice(gateway, id);
      refunds.answerWith = { status, ...(failureReason ? { failureReason } : {}) };
      const made = await refundStray(deps, id);
      assert.equal(made.outcome === 'refused' && made.reason, 'refund_failed', `${status}: ${made.message}`);
      assert.match(
        made.message,
        new RegExp(
          `^the gateway did not refund 0\\.50 USD of ${stray} \\(the stray payment of invoice ${id}\\): refund re_1 is ${status}` +
            (failureReason ? ` \\(${failureReason}\\)` : ';'),
        ),
      );
      assert.ok(
        log.lines.some((l) =>
          l.includes(`event=charge.stray_refund_failed invoice_id=${id} payment_intent=${stray} refund=re_1 status=${status}`),
        ),
      );
      assert.ok(!log.lines.some((l) => l.includes('charge.stray_refunded')), status);
    }
  });

  test('a refund answered pending is said pending (made, not with the cardholder yet)', async () => {
    const { gateway, refunds, deps } = world();
    const stray = await strayInvoice(gateway, 'sr-pending');
    refunds.answerWith = { status: 'pending' };
    const made = await refundStray(deps, 'sr-pending');
    assert.equal(made.outcome, 'refunded', made.message);
    assert.equal(made.outcome === 'refunded' && made.status, 'pending');
    assert.match(
      made.message,
      new RegExp(`^refund re_1 of 0\\.50 USD of ${stray} \\(the stray payment of invoice sr-pending\\) is pending at the gateway`),
    );
  });
});
