// The payments side of the conservation property (conservation.test.ts): one
// of an account's invoices paid, maybe refunded and maybe charged back, as the
// gateway reports them, through the handler the webhook route calls
// (handleGatewayEvent) on the real PostgreSQL. What the gateway moved is
// kept apart in a model (`Moved`, minor units) that the identity's sums,
// read from the database, must match to the cent: money the account paid,
// what we gave back, what its bank withdrew and what it reinstated.
import assert from 'node:assert/strict';
import type pg from 'pg';
import fc from 'fast-check';
import type { Logger } from '@vault/runtime';
import { minorUnits } from '../src/charging/amount.ts';
import type { ChargeRow } from '../src/charging/decide.ts';
import { DISPUTE_REINSTATED, DISPUTE_WITHDRAWN } from '../src/charging/disputes.ts';
import { saveCharge } from '../src/charging/store.ts';
import { handleGatewayEvent } from '../src/charging/webhooks.ts';
import { disputeMade, fixtureDisputes } from './charging-fixture.ts';

export const paymentArb = fc.record({
  pick: fc.nat(),
  refund: fc.option(fc.record({ whole: fc.boolean() }), { nil: undefined }),
  // A chargeback after the payment (and after the refund: Stripe refuses to refund a disputed
  // charge; it does take a chargeback of a refunded one, the refund being the merchant's evidence).
  dispute: fc.option(
    fc.record({
      /** Of the charge: the whole of it (as usual), or a part of the order. */
      percent: fc.oneof(fc.constant(100), fc.integer({ min: 1, max: 99 })),
      /** The dispute was won: the funds came back. */
      reinstated: fc.boolean(),
      /** The reinstatement's event is delivered before the withdrawal's (deliveries come in any order). */
      reinstatedFirst: fc.boolean(),
      /** The withdrawal is delivered before the payment's event too: it waits, unrecorded, and comes again. */
      early: fc.boolean(),
      /** Each dispute event is delivered twice, and once more as a copy under another event id. */
      again: fc.boolean(),
    }),
    { nil: undefined },
  ),
});
export type PaymentPlan = typeof paymentArb extends fc.Arbitrary<infer T> ? T : never;

/** What the gateway moved for one account, in minor units (USD cents). */
export interface Moved {
  paid: number;
  refunded: number;
  withdrawn: number;
  reinstated: number;
}

export const nothingMoved = (): Moved => ({ paid: 0, refunded: 0, withdrawn: 0, reinstated: 0 });

/** An event as the gateway delivers it: its id, type and object. */
type GatewayDelivery = [id: string, type: string, object: object];

interface Deps {
  pool: pg.Pool;
  log: Logger;
  /** The test's clock: events are made and handled at it. */
  nowMs: () => number;
}

/**
 * Pays one of the account's chargeable invoices as production does (the charger stores its
 * PaymentIntent, the gateway's payment_intent.succeeded marks it paid), then delivers its
 * refund and chargeback events, if the plan has them, and adds what they moved to `moved`.
 */
export async function payOne(deps: Deps, account: string, plan: PaymentPlan, moved: Moved): Promise<void> {
  const { rows } = await deps.pool.query<{ id: string; total: string; currency: string }>(
    `select id, total::text, currency from invoicing.invoices
      where account_id = $1 and status = 'finalized' and total >= 0.50 order by number`,
    [account],
  );
  const invoice = rows[plan.pick % Math.max(rows.length, 1)];
  if (!invoice) return;
  const cents = minorUnits(invoice.total, invoice.currency);
  const currency = invoice.currency.toLowerCase();
  const pi = `pi_${invoice.id}`;
  const ch = `ch_${invoice.id}`;
  const created = Math.floor(deps.nowMs() / 1000);
  const deliver = async (id: string, type: string, object: object) => {
    const outcome = await handleGatewayEvent(
      { pool: deps.pool, log: deps.log, now: deps.nowMs, disputes: fixtureDisputes(deps.pool) },
      { id, type, created, data: { object } },
    );
    return outcome.outcome;
  };

  // The charger created the PaymentIntent and stored it on the charge row; its confirm is in flight.
  const scheduled: ChargeRow = {
    paymentIntentId: pi,
    state: 'scheduled',
    attempts: 0,
    roundStart: 0,
    pendingPaymentMethodId: 'pm_ok_conservation',
    lastPaymentMethodId: null,
    lastAttemptAt: null,
    nextAttemptAt: new Date(deps.nowMs()),
    lastErrorCode: null,
    lastDeclineCode: null,
    lastErrorMessage: null,
  };
  await saveCharge({ pool: deps.pool }, invoice.id, scheduled);

  const dispute = plan.dispute;
  const disputed = Math.max(1, Math.floor((cents * (dispute?.percent ?? 100)) / 100));
  const disputeObject = {
    id: `dp_${invoice.id}`,
    object: 'dispute',
    amount: disputed,
    currency,
    charge: ch,
    payment_intent: pi,
    reason: 'fraudulent',
  };
  disputeMade(disputeObject.id, pi, disputeObject.reason);
  const withdrawal: GatewayDelivery = [`evt_dw_${invoice.id}`, DISPUTE_WITHDRAWN, disputeObject];
  if (dispute?.early) assert.equal(await deliver(...withdrawal), 'before_payment', 'a chargeback before its payment waits');

  const payment = { id: pi, object: 'payment_intent', status: 'succeeded', amount: cents, currency, metadata: { invoice_id: invoice.id } };
  assert.equal(await deliver(`evt_paid_${invoice.id}`, 'payment_intent.succeeded', payment), 'paid');
  moved.paid += cents;

  if (plan.refund) {
    const refunded = plan.refund.whole ? cents : Math.max(1, Math.floor(cents / 3));
    const charge = { id: ch, object: 'charge', payment_intent: pi, amount_refunded: refunded, currency };
    assert.equal(await deliver(`evt_rf_${invoice.id}`, 'charge.refunded', charge), plan.refund.whole ? 'refunded' : 'partly_refunded');
    moved.refunded += refunded;
  }

  if (!dispute) return;
  moved.withdrawn += disputed;
  if (dispute.reinstated) moved.reinstated += disputed;
  const events: GatewayDelivery[] = [withdrawal];
  if (dispute.reinstated) events.push([`evt_dr_${invoice.id}`, DISPUTE_REINSTATED, disputeObject]);
  if (dispute.reinstatedFirst) events.reverse();
  for (const event of events) {
    // Each is recorded in either order (a withdrawal after its reinstatement then counts nothing).
    assert.equal(await deliver(...event), event[1] === DISPUTE_WITHDRAWN ? 'dispute_withdrawn' : 'dispute_reinstated');
    if (dispute.again) {
      assert.equal(await deliver(...event), 'duplicate');
      assert.equal(await deliver(`${event[0]}_copy`, event[1], event[2]), 'unchanged');
    }
  }
}
