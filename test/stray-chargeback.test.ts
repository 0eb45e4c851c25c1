// A stray payment charged back: a PaymentIntent of an invoice whose amount was changed at the gateway
// pays 10.00 of a 25.00 invoice (stray: it holds the invoice, never confirmed again). The operator's
// remedy is a full refund, but the card (4000000000000259) disputes the charge at once, and the gateway
// refuses to refund a disputed charge (400 charge_disputed, as Stripe). Once the dispute is lost the
// money is the cardholder's again: the charger lets the stray go and charges the invoice's total, as
// after a refund. Open or won, it stays held. The real sandbox and invoicing app, through the SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Stripe from 'stripe';
import { memoryLogger } from '@vault/runtime';
import { eventually, freePort, type RunningService } from '@vault/testkit';
import { chargePass } from '../services/invoicing/src/charging/charger.ts';
import { chargeGateway, type ChargeGateway } from '../services/invoicing/src/charging/gateway-calls.ts';
import {
  chargingWorld,
  customerOf,
  gatewayRecord,
  insertInvoice,
  putCard,
  startChargingInvoicing,
  type ChargingWorld,
} from './charging-harness.ts';

const ADMIN = 'admin-token-stray-chargeback-0123456789abcdef';
const DISPUTE_CARD = '4000000000000259';

describe('a stray payment charged back (real sandbox and invoicing app)', () => {
  let w: ChargingWorld;
  let app: RunningService;
  const strays: Record<string, string> = {};
  const invoice = async (id: string) => {
    const res = await fetch(`${app.url}/v1/invoices/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return (await res.json()) as { status: string; amount_disputed: string; amount_refunded: string };
  };
  const row = async (id: string) =>
    (
      await w.db.pool.query<{ payment_intent_id: string | null; state: string; last_error_code: string | null }>(
        'select payment_intent_id, state, last_error_code from invoicing.charges where invoice_id = $1',
        [id],
      )
    ).rows[0];
  const noticesOf = async (account: string) =>
    (await w.db.pool.query<{ type: string }>('select type from invoicing.notices where account_id = $1 order by seq', [account])).rows.map(
      (r) => r.type,
    );
  const disputeOf = async (paymentIntent: string) => {
    const disputes = await w.sdk.disputes.list({ payment_intent: paymentIntent });
    assert.equal(disputes.data.length, 1);
    return disputes.data[0]!;
  };
  /** Three more of the app's charging passes (each a look at every held stray). */
  const passes = async (what: string) => {
    const count = () => app.lines.filter((l) => l.includes('event=charging.pass')).length;
    const from = count();
    await eventually(`three passes ${what}`, () => count() >= from + 3, 20_000);
  };
  const released = (id: string) => app.lines.filter((l) => l.includes(`event=charge.stray_released invoice_id=${id}`));

  before(async () => {
    w = await chargingWorld('stray_chargeback');
    // Someone with the account's keys makes the invoice's PaymentIntent 10.00 (the sandbox updates no
    // amount, so it is asked for at creation): the charger's own pass, the real SDK and sandbox.
    const real = chargeGateway(w.sdk);
    const changed: ChargeGateway = { ...real, createPaymentIntent: (p) => real.createPaymentIntent({ ...p, amount: 1000 }) };
    for (const id of ['inv-stray-lost', 'inv-stray-won']) {
      await putCard(w, `acct-${id}`, DISPUTE_CARD);
      await insertInvoice(w.db.pool, { id, account: `acct-${id}`, total: '25.00' });
    }
    const log = memoryLogger();
    const report = await chargePass({ pool: w.db.pool, gateway: changed, retrySchedule: [60], log });
    assert.deepEqual([report.paid, report.errors], [0, 2], log.lines.join('\n'));
    for (const id of ['inv-stray-lost', 'inv-stray-won']) {
      const r = await row(id);
      assert.equal(r?.last_error_code, 'stray_payment');
      strays[id] = r!.payment_intent_id!;
      assert.ok(
        log.lines.some((l) => l.includes(`event=charge.stray invoice_id=${id} payment_intent=${strays[id]} reason=amount_mismatch`)),
      );
      assert.equal((await disputeOf(strays[id]!)).status, 'needs_response', 'the bank disputed it at once');
    }
    // From here on the app charges (every 0.2 s), and hears the gateway's events (its catch-up at boot, then webhooks).
    app = await startChargingInvoicing(w, await freePort(), ADMIN, { WEBHOOK_CATCH_UP_EVERY_SECONDS: '3600' });
  });
  after(async () => {
    await app?.kill('SIGTERM');
    await w?.close();
  });

  test('not refundable while disputed; held while the dispute is open (another card too); lost: released, 25.00 charged once with a new PaymentIntent; a reinstatement afterwards pays and charges nothing', async () => {
    const id = 'inv-stray-lost';
    const stray = strays[id]!;
    // The chargeback of a held stray is not the invoice's: stray at once, not waiting three days for a payment.
    await eventually(
      'the stray chargeback heard',
      () =>
        app.lines.some(
          (l) =>
            l.includes('type=charge.dispute.funds_withdrawn') &&
            l.includes(`invoice_id=${id}`) &&
            l.includes('outcome=stray reason=stray_payment'),
        ),
      20_000,
    );
    assert.ok(!app.lines.some((l) => l.includes('event=webhook.retry_later') && l.includes(`invoice_id=${id}`)));

    // The documented remedy is refused by the gateway: the charge is disputed.
    await assert.rejects(
      w.sdk.refunds.create({ payment_intent: stray }),
      (err: Stripe.errors.StripeError) => err.code === 'charge_disputed',
    );
    // A working card on file changes nothing while the stray holds the invoice (it would pay twice).
    await putCard(w, `acct-${id}`, '4242424242424242');
    await passes('with the dispute open');
    assert.deepEqual(released(id), []);
    assert.deepEqual([(await invoice(id)).status, (await row(id))?.payment_intent_id], ['finalized', stray]);
    const customer = await customerOf(w.db.pool, `acct-${id}`);
    assert.deepEqual(await gatewayRecord(w.sdk, customer, id), { intents: 1, succeeded: 1, failed: 0 });

    // The merchant loses the dispute: the 10.00 is the cardholder's again, for good.
    const dispute = await w.sdk.disputes.update((await disputeOf(stray)).id, { evidence: { uncategorized_text: 'losing_evidence' } });
    assert.equal(dispute.status, 'lost');
    await eventually(`${id} paid`, async () => (await invoice(id)).status === 'paid', 20_000);
    assert.deepEqual(released(id).length, 1);
    assert.match(
      released(id)[0]!,
      new RegExp(`payment_intent=${stray} amount_refunded=0\\.00 amount_charged_back=10\\.00 currency=USD disputes=${dispute.id}`),
    );
    const fresh = (await row(id))?.payment_intent_id as string;
    assert.notEqual(fresh, stray);
    const paid = await w.sdk.paymentIntents.retrieve(fresh);
    assert.deepEqual([paid.status, paid.amount_received, paid.currency], ['succeeded', 2500, 'usd']);
    assert.deepEqual(await gatewayRecord(w.sdk, customer, id), { intents: 2, succeeded: 2, failed: 0 });
    const shown = await invoice(id);
    assert.deepEqual(
      [shown.status, shown.amount_refunded, shown.amount_disputed],
      ['paid', '0.00', '0.00'],
      'the stray’s chargeback is not the invoice’s',
    );
    assert.deepEqual(await noticesOf(`acct-${id}`), ['invoice.paid']);

    // A lost dispute is closed for good (short of an appeal, which the sandbox does not have): its reinstatement
    // is the gateway's event forged, signed with the endpoint's secret. The released stray is no PaymentIntent of
    // the invoice's any more: stray, for operators; the invoice stays paid once, nothing is charged again.
    const withdrawn = (await w.sdk.events.list({ type: 'charge.dispute.funds_withdrawn', limit: 100 })).data.find(
      (e) => (e.data.object as Stripe.Dispute).id === dispute.id,
    );
    assert.ok(withdrawn);
    const reinstated = {
      ...withdrawn,
      id: `${withdrawn.id}_reinstated`,
      type: 'charge.dispute.funds_reinstated',
      created: Math.floor(Date.now() / 1000),
      data: { object: { ...(withdrawn.data.object as Stripe.Dispute), status: 'won' } },
    };
    const payload = JSON.stringify(reinstated);
    const { rows } = await w.db.pool.query<{ secret: string }>('select secret from invoicing.webhook_endpoints');
    const delivered = await fetch(`${app.url}/v1/gateway/webhooks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': w.sdk.webhooks.generateTestHeaderString({ payload, secret: rows[0]!.secret }),
      },
      body: payload,
    });
    assert.deepEqual(await delivered.json(), { received: true, duplicate: false });
    await eventually(
      'the reinstatement told as stray',
      () =>
        app.lines.some(
          (l) =>
            l.includes(`event_id=${reinstated.id}`) &&
            l.includes('outcome=stray reason=unknown_payment_intent') &&
            l.includes(`payment_intent=${stray}`),
        ),
      20_000,
    );
    await passes('after the reinstatement');
    assert.deepEqual([(await invoice(id)).status, (await invoice(id)).amount_disputed], ['paid', '0.00']);
    assert.deepEqual(await noticesOf(`acct-${id}`), ['invoice.paid']);
    assert.deepEqual(await gatewayRecord(w.sdk, customer, id), { intents: 2, succeeded: 2, failed: 0 });
  });

  test('won (the funds reinstated to us): the stray still holds the invoice, nothing charged, the reinstatement stray too', async () => {
    const id = 'inv-stray-won';
    const stray = strays[id]!;
    const won = await w.sdk.disputes.update((await disputeOf(stray)).id, { evidence: { uncategorized_text: 'winning_evidence' } });
    assert.equal(won.status, 'won');
    await eventually(
      'the reinstatement heard',
      () =>
        app.lines.some(
          (l) =>
            l.includes('type=charge.dispute.funds_reinstated') &&
            l.includes(`invoice_id=${id}`) &&
            l.includes('outcome=stray reason=stray_payment'),
        ),
      20_000,
    );
    await passes('after the dispute was won');
    assert.deepEqual(released(id), []);
    assert.deepEqual([(await invoice(id)).status, (await row(id))?.payment_intent_id], ['finalized', stray]);
    assert.deepEqual(await gatewayRecord(w.sdk, await customerOf(w.db.pool, `acct-${id}`), id), { intents: 1, succeeded: 1, failed: 0 });
    assert.deepEqual(await noticesOf(`acct-${id}`), []);
  });
});
