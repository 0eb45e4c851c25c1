// Chargebacks recorded: with Stripe a lost chargeback withdraws the money and
// sends no charge.refunded, so the invoice read as paid in full while the money
// was gone. Invoicing now subscribes to charge.dispute.funds_withdrawn and
// funds_reinstated and shows amount_disputed. The real sandbox (the dispute
// test card 4000000000000259) and invoicing app, through the official SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Stripe from 'stripe';
import { eventually, freePort, type RunningService } from '@vault/testkit';
import { chargingWorld, insertInvoice, putCard, startChargingInvoicing, type ChargingWorld } from './charging-harness.ts';

const ADMIN = 'admin-token-charge-disputes-0123456789abcdef';
const DISPUTE_CARD = '4000000000000259';

describe('chargebacks of paid invoices (real sandbox and invoicing app)', () => {
  let w: ChargingWorld;
  let port: number;
  let app: RunningService | undefined;
  // Only the catch-up run at boot: what is asserted here comes by webhook unless said.
  const start = () => startChargingInvoicing(w, port, ADMIN, { WEBHOOK_CATCH_UP_EVERY_SECONDS: '3600' });
  const invoice = async (id: string) => {
    const res = await fetch(`${app!.url}/v1/invoices/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return (await res.json()) as { status: string; amount_disputed: string; amount_refunded: string };
  };
  /** An invoice of `total` charged to the dispute test card: paid, then disputed by the bank. */
  const disputedInvoice = async (id: string, total: string) => {
    await putCard(w, `acct-${id}`, DISPUTE_CARD);
    await insertInvoice(w.db.pool, { id, account: `acct-${id}`, total });
    await eventually(`${id} paid`, async () => (await invoice(id)).status === 'paid', 20_000);
    const { rows } = await w.db.pool.query<{ payment_intent_id: string }>(
      'select payment_intent_id from invoicing.charges where invoice_id = $1',
      [id],
    );
    const disputes = await w.sdk.disputes.list({ payment_intent: rows[0]!.payment_intent_id });
    assert.equal(disputes.data.length, 1);
    return disputes.data[0]!;
  };
  const endpoint = async () =>
    (await w.db.pool.query<{ endpoint_id: string; secret: string }>('select endpoint_id, secret from invoicing.webhook_endpoints'))
      .rows[0]!;

  before(async () => {
    w = await chargingWorld('charge_disputes');
    port = await freePort();
    app = await start();
  });
  after(async () => {
    await app?.kill('SIGTERM');
    await w?.close();
  });

  test('paid with 4000000000000259: amount_disputed is the total once the webhook is in, status still paid; a replay changes nothing; won: back to 0.00', async () => {
    const dispute = await disputedInvoice('inv-dispute', '25.00');
    await eventually('the chargeback recorded', async () => (await invoice('inv-dispute')).amount_disputed === '25.00', 20_000);
    assert.deepEqual([(await invoice('inv-dispute')).status, (await invoice('inv-dispute')).amount_refunded], ['paid', '0.00']);
    const warned = app!.lines.find((l) => l.includes('event=charge.dispute_withdrawn'));
    assert.match(warned ?? '', /at=warn .*invoice_id=inv-dispute dispute_id=dp_\w+ amount=25\.00 currency=USD reason=fraudulent/);
    assert.match(warned ?? '', /count#charge\.dispute_withdrawn=1/);

    // The gateway's own event, delivered again, signed with the endpoint's secret: a duplicate.
    const withdrawn = (await w.sdk.events.list({ type: 'charge.dispute.funds_withdrawn', limit: 100 })).data.find(
      (e) => (e.data.object as Stripe.Dispute).id === dispute.id,
    );
    assert.ok(withdrawn, 'the sandbox made charge.dispute.funds_withdrawn');
    const payload = JSON.stringify(withdrawn);
    const replay = await fetch(`${app!.url}/v1/gateway/webhooks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': w.sdk.webhooks.generateTestHeaderString({ payload, secret: (await endpoint()).secret }),
      },
      body: payload,
    });
    assert.deepEqual(await replay.json(), { received: true, duplicate: true });
    assert.equal((await invoice('inv-dispute')).amount_disputed, '25.00');

    const won = await w.sdk.disputes.update(dispute.id, { evidence: { uncategorized_text: 'winning_evidence' } });
    assert.equal(won.status, 'won');
    await eventually('the funds reinstated', async () => (await invoice('inv-dispute')).amount_disputed === '0.00', 20_000);
    assert.equal((await invoice('inv-dispute')).status, 'paid');
    assert.ok(app!.lines.some((l) => l.includes('event=charge.dispute_reinstated') && l.includes('invoice_id=inv-dispute')));
  });

  test('a dispute of a PaymentIntent that is not ours is stray: logged, never recorded', async () => {
    const customer = await w.sdk.customers.create({});
    const pi = await w.sdk.paymentIntents.create({
      amount: 2500,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
      payment_method: 'pm_card_createDispute',
      confirm: true,
      off_session: true,
      // Naming one of our invoices changes nothing: only our own records match a dispute.
      metadata: { invoice_id: 'inv-dispute' },
    });
    await eventually(
      'the stray dispute logged',
      async () =>
        app!.lines.some(
          (l) =>
            l.includes('type=charge.dispute.funds_withdrawn') &&
            l.includes('outcome=stray reason=unknown_payment_intent') &&
            l.includes(`payment_intent=${pi.id}`),
        ),
      20_000,
    );
    const { rows } = await w.db.pool.query('select 1 from invoicing.invoice_disputes where payment_intent_id = $1', [pi.id]);
    assert.equal(rows.length, 0);
    assert.equal((await invoice('inv-dispute')).amount_disputed, '0.00');
  });

  test('reinstated while the endpoint was disabled: the catch-up at the next boot records it', async () => {
    const dispute = await disputedInvoice('inv-caught-up', '12.00');
    await eventually('the chargeback recorded', async () => (await invoice('inv-caught-up')).amount_disputed === '12.00', 20_000);
    await w.sdk.webhookEndpoints.update((await endpoint()).endpoint_id, { disabled: true });
    await w.sdk.disputes.update(dispute.id, { evidence: { uncategorized_text: 'winning_evidence' } });
    assert.equal((await invoice('inv-caught-up')).amount_disputed, '12.00');
    await app!.kill('SIGTERM');
    app = await start();
    await eventually('the reinstatement caught up', async () => (await invoice('inv-caught-up')).amount_disputed === '0.00', 20_000);
    const line = app.lines.find((l) => l.includes('event=webhook.caught_up') && l.includes('type=charge.dispute.funds_reinstated'));
    assert.match(line ?? '', /outcome=dispute_reinstated invoice_id=inv-caught-up/);
  });
});
