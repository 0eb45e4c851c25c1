// Through the official SDK: a refund is announced as Stripe announces it
// (charge.refunded and refund.created, from one request), a charge's `refunds`
// expands to the list of them, and an expansion deeper than Stripe's 4 levels
// is a 400 naming expand, refused before anything is created.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { startSandbox, type Sandbox } from './harness.ts';

describe('refund events, expanding refunds, expansion depth', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  const pay = (extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
    sb.stripe.paymentIntents.create({
      amount: 2000,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      payment_method: 'pm_card_visa',
      confirm: true,
      ...extra,
    });

  test('a refund emits refund.created with the refund and charge.refunded with the charge, in one request; a subscriber to refund.created gets it', async () => {
    const endpoint = await sb.stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hooks', enabled_events: ['refund.created'] });
    const pi = await pay();
    const refund = await sb.stripe.refunds.create({ payment_intent: pi.id, amount: 300 });
    const [created] = (await sb.stripe.events.list({ type: 'refund.created' })).data;
    const [refunded] = (await sb.stripe.events.list({ type: 'charge.refunded' })).data;
    assert.ok(created && refunded, 'both events');
    const object = created.data.object as Stripe.Refund;
    assert.deepEqual([object.object, object.id, object.amount, object.charge], ['refund', refund.id, 300, pi.latest_charge]);
    assert.equal((refunded.data.object as Stripe.Charge).id, pi.latest_charge);
    assert.equal(created.request?.id, refunded.request?.id, 'the same request (one transaction)');
    const { rows } = await sb.db.pool.query<{ type: string }>(
      `select e.type from gateway_sandbox.deliveries d join gateway_sandbox.events e on e.id = d.event_id where d.endpoint_id = $1`,
      [endpoint.id],
    );
    assert.deepEqual(
      rows.map((r) => r.type),
      ['refund.created'],
    );
  });

  test('a charge’s refunds expand to the list of them, newest first (on the charge, through latest_charge, on a list); unexpanded it has none', async () => {
    const pi = await pay();
    const chargeId = pi.latest_charge as string;
    const first = await sb.stripe.refunds.create({ charge: chargeId, amount: 500 });
    const second = await sb.stripe.refunds.create({ charge: chargeId, amount: 700 });
    assert.equal((await sb.stripe.charges.retrieve(chargeId)).refunds, undefined);
    const charge = await sb.stripe.charges.retrieve(chargeId, { expand: ['refunds'] });
    assert.equal(charge.refunds?.object, 'list');
    assert.deepEqual(
      charge.refunds?.data.map((r) => [r.id, r.amount]),
      [
        [second.id, 700],
        [first.id, 500],
      ],
    );
    assert.equal(charge.refunds?.has_more, false);
    assert.equal(charge.refunds?.url, `/v1/charges/${chargeId}/refunds`);
    const listed = await sb.stripe.rawRequest('GET', `/v1/charges/${chargeId}/refunds`, {});
    assert.deepEqual(
      (listed as unknown as { data: { id: string }[] }).data.map((r) => r.id),
      [second.id, first.id],
    );
    const viaIntent = await sb.stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge.refunds'] });
    assert.equal((viaIntent.latest_charge as Stripe.Charge).refunds?.data.length, 2);
    const inList = await sb.stripe.charges.list({ payment_intent: pi.id, expand: ['data.refunds'] });
    assert.equal(inList.data[0]?.refunds?.data[0]?.id, second.id);
  });

  test('an expansion deeper than 4 levels (a list’s data counts) is a 400 naming expand; nothing is created', async () => {
    const pi = await pay();
    const four = await sb.stripe.charges.list({ payment_intent: pi.id, expand: ['data.payment_intent.latest_charge.refunds'] });
    const expanded = four.data[0]!.payment_intent as Stripe.PaymentIntent;
    assert.equal((expanded.latest_charge as Stripe.Charge).refunds?.object, 'list');
    const tooDeep = (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
      assert.equal(err.statusCode, 400);
      assert.equal(err.param, 'expand');
      assert.match(err.message, /You cannot expand more than 4 levels of a property/);
      return true;
    };
    await assert.rejects(
      sb.stripe.charges.list({ payment_intent: pi.id, expand: ['data.payment_intent.latest_charge.payment_method.customer'] }),
      tooDeep,
    );
    const before = await sb.db.pool.query<{ n: number }>('select count(*)::int as n from gateway_sandbox.payment_intents');
    await assert.rejects(pay({ expand: ['latest_charge.payment_intent.latest_charge.payment_method.customer'] }), tooDeep);
    const afterwards = await sb.db.pool.query<{ n: number }>('select count(*)::int as n from gateway_sandbox.payment_intents');
    assert.equal(afterwards.rows[0]!.n, before.rows[0]!.n, 'nothing created');
  });
});
