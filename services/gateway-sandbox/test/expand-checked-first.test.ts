// Through the official SDK: an `expand[]` path the object cannot expand is
// refused before the request acts, on every POST that takes expand, as Stripe
// refuses it. Before, it was refused while rendering the answer: a
// create-and-confirm with a bad path created and charged the PaymentIntent,
// answered 400, and stored that 400 under the Idempotency-Key, so the corrected
// request with the same key got the 400 back and the customer was charged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { startSandbox, type Sandbox } from './harness.ts';

describe('expand paths are checked before anything happens', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  /** Every row the sandbox keeps (deliveries aside: their retries run on their own). */
  const snapshot = async () => {
    const { rows } = await sb.db.pool.query<{ name: string }>(
      `select table_name as name from information_schema.tables
        where table_schema = 'gateway_sandbox' and table_type = 'BASE TABLE' and table_name <> 'deliveries' order by 1`,
    );
    const state: Record<string, string> = {};
    for (const { name } of rows) {
      const { rows: hash } = await sb.db.pool.query<{ h: string }>(
        `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from gateway_sandbox.${name} t`,
      );
      state[name] = hash[0]!.h;
    }
    return state;
  };

  const cannotExpand = (path: string) => (err: unknown) => {
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
    assert.deepEqual([err.statusCode, err.param, err.message], [400, 'expand', `This property cannot be expanded (${path}).`]);
    return true;
  };

  /**
   * `call` with a bad path is refused and changes nothing (nor is its answer kept under the key);
   * the same call, corrected, with the same key then acts.
   */
  async function refusedThenCorrected<T>(key: string, call: (expand: string[], idempotencyKey: string) => Promise<T>, bad = ['nonsense']) {
    const before = await snapshot();
    for (const path of bad) await assert.rejects(call([path], key), cannotExpand(path), `${key}: ${path}`);
    assert.deepEqual(await snapshot(), before, `${key}: nothing changed, nothing stored under the key`);
    return call([], key);
  }

  const customer = () => sb.stripe.customers.create({});
  const card = () => sb.stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_visa' } });
  const chargesOf = async (pi: string) => (await sb.stripe.charges.list({ payment_intent: pi })).data;

  test('a PaymentIntent create-and-confirm with a path it cannot expand creates and charges nothing; the same key then pays once', async () => {
    const { id: cus } = await customer();
    const create = (expand: string[], idempotencyKey: string) =>
      sb.stripe.paymentIntents.create(
        {
          amount: 2000,
          currency: 'usd',
          customer: cus,
          payment_method: 'pm_card_visa',
          allowed_payment_method_types: ['card'],
          confirm: true,
          off_session: true,
          expand: expand.length ? expand : ['latest_charge', 'customer'],
        },
        { idempotencyKey },
      );
    // Unknown; not an id (metadata, amount); an id Stripe does not expand (a charge's payment_method);
    // past a field that is not an object; a list's items without `data.`.
    const bad = ['nonsense', 'metadata', 'amount', 'latest_charge.payment_method', 'customer.email', 'latest_charge.refunds.id'];
    const pi = await refusedThenCorrected('pay-1', create, bad);
    assert.equal(pi.status, 'succeeded');
    assert.equal((pi.latest_charge as Stripe.Charge).amount, 2000);
    assert.equal((pi.customer as Stripe.Customer).id, cus);
    assert.equal((await chargesOf(pi.id)).length, 1, 'charged once');
    const { rows } = await sb.db.pool.query<{ n: number }>('select count(*)::int as n from gateway_sandbox.payment_intents');
    assert.equal(rows[0]!.n, 1);
  });

  test('every other PaymentIntent POST (update, confirm, capture, cancel) refuses first', async () => {
    const { id: cus } = await customer();
    const pi = await sb.stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      customer: cus,
      allowed_payment_method_types: ['card'],
    });
    const updated = await refusedThenCorrected('pi-update', (expand, idempotencyKey) =>
      sb.stripe.paymentIntents.update(pi.id, { amount: 1200, metadata: { step: 'updated' }, expand }, { idempotencyKey }),
    );
    assert.deepEqual([updated.amount, updated.metadata], [1200, { step: 'updated' }]);
    const confirmed = await refusedThenCorrected('pi-confirm', (expand, idempotencyKey) =>
      sb.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', off_session: true, expand }, { idempotencyKey }),
    );
    assert.equal(confirmed.status, 'succeeded');
    assert.equal((await chargesOf(pi.id)).length, 1);
    // Capture is refused either way (automatic capture): its refusal for the state is the one kept.
    await assert.rejects(
      refusedThenCorrected('pi-capture', (expand, idempotencyKey) =>
        sb.stripe.paymentIntents.capture(pi.id, { expand }, { idempotencyKey }),
      ),
      (err: unknown) => err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'payment_intent_unexpected_state',
    );
    const open = await sb.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', allowed_payment_method_types: ['card'] });
    const canceled = await refusedThenCorrected('pi-cancel', (expand, idempotencyKey) =>
      sb.stripe.paymentIntents.cancel(open.id, { expand }, { idempotencyKey }),
    );
    assert.equal(canceled.status, 'canceled');
  });

  test('SetupIntent, customer, PaymentMethod and refund POSTs refuse first', async () => {
    const { id: cus } = await customer();
    const si = await refusedThenCorrected('si-create', (expand, idempotencyKey) =>
      sb.stripe.setupIntents.create({ customer: cus, metadata: { account_id: 'acct_1' }, expand }, { idempotencyKey }),
    );
    await refusedThenCorrected('si-update', (expand, idempotencyKey) =>
      sb.stripe.setupIntents.update(si.id, { metadata: { step: 'updated' }, expand }, { idempotencyKey }),
    );
    const set = await refusedThenCorrected('si-confirm', (expand, idempotencyKey) =>
      sb.stripe.setupIntents.confirm(si.id, { payment_method: 'pm_card_visa', expand }, { idempotencyKey }),
    );
    assert.equal(set.status, 'succeeded');
    const other = await sb.stripe.setupIntents.create({ customer: cus });
    const canceled = await refusedThenCorrected('si-cancel', (expand, idempotencyKey) =>
      sb.stripe.setupIntents.cancel(other.id, { expand }, { idempotencyKey }),
    );
    assert.equal(canceled.status, 'canceled');

    const made = await refusedThenCorrected('cus-create', (expand, idempotencyKey) =>
      sb.stripe.customers.create({ email: 'a@example.com', expand }, { idempotencyKey }),
    );
    const renamed = await refusedThenCorrected('cus-update', (expand, idempotencyKey) =>
      sb.stripe.customers.update(made.id, { name: 'Renamed', expand }, { idempotencyKey }),
    );
    assert.equal(renamed.name, 'Renamed');

    await refusedThenCorrected('pm-create', (expand, idempotencyKey) =>
      sb.stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_visa' }, expand }, { idempotencyKey }),
    );
    const pm = await card();
    const attached = await refusedThenCorrected('pm-attach', (expand, idempotencyKey) =>
      sb.stripe.paymentMethods.attach(pm.id, { customer: made.id, expand }, { idempotencyKey }),
    );
    assert.equal(attached.customer, made.id);
    const detached = await refusedThenCorrected('pm-detach', (expand, idempotencyKey) =>
      sb.stripe.paymentMethods.detach(pm.id, { expand }, { idempotencyKey }),
    );
    assert.equal(detached.customer, null);

    const pi = await sb.stripe.paymentIntents.create({
      amount: 3000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      allowed_payment_method_types: ['card'],
      confirm: true,
    });
    const refund = await refusedThenCorrected(
      'refund',
      (expand, idempotencyKey) => sb.stripe.refunds.create({ payment_intent: pi.id, amount: 500, expand }, { idempotencyKey }),
      ['nonsense', 'charge.payment_method'],
    );
    assert.equal(refund.amount, 500);
    assert.equal((await sb.stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded, 500);
  });

  test('dispute and webhook endpoint POSTs refuse first', async () => {
    const pi = await sb.stripe.paymentIntents.create({
      amount: 2500,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      allowed_payment_method_types: ['card'],
      confirm: true,
    });
    const disputed = await refusedThenCorrected('dispute-create', (expand, idempotencyKey) =>
      sb.stripe.rawRequest('POST', `/v1/test_helpers/charges/${pi.latest_charge}/dispute`, { amount: 1000, expand }, { idempotencyKey }),
    );
    const dispute = disputed as unknown as Stripe.Dispute;
    await refusedThenCorrected('dispute-update', (expand, idempotencyKey) =>
      sb.stripe.disputes.update(dispute.id, { metadata: { step: 'updated' }, expand }, { idempotencyKey }),
    );
    const closed = await refusedThenCorrected('dispute-close', (expand, idempotencyKey) =>
      sb.stripe.disputes.close(dispute.id, { expand }, { idempotencyKey }),
    );
    assert.equal(closed.status, 'lost');

    // A webhook endpoint has nothing to expand.
    const endpoint = await refusedThenCorrected(
      'endpoint-create',
      (expand, idempotencyKey) =>
        sb.stripe.webhookEndpoints.create(
          { url: 'http://127.0.0.1:9/hooks', enabled_events: ['refund.created'], expand },
          { idempotencyKey },
        ),
      ['nonsense', 'application'],
    );
    const described = await refusedThenCorrected('endpoint-update', (expand, idempotencyKey) =>
      sb.stripe.webhookEndpoints.update(endpoint.id, { description: 'hooks', expand }, { idempotencyKey }),
    );
    assert.equal(described.description, 'hooks');
  });

  test('what Stripe expands still expands, deleted customers included; reads refuse what cannot be', async () => {
    const { id: cus } = await customer();
    const pm = await card();
    await sb.stripe.paymentMethods.attach(pm.id, { customer: cus });
    const withDefault = await sb.stripe.customers.update(cus, {
      invoice_settings: { default_payment_method: pm.id },
      expand: ['invoice_settings.default_payment_method'],
    });
    assert.equal((withDefault.invoice_settings.default_payment_method as Stripe.PaymentMethod).id, pm.id);
    const pi = await sb.stripe.paymentIntents.create({
      amount: 2000,
      currency: 'usd',
      customer: cus,
      payment_method: pm.id,
      allowed_payment_method_types: ['card'],
      confirm: true,
      off_session: true,
      expand: ['latest_charge.payment_intent', 'payment_method.customer', 'review', 'latest_charge.balance_transaction'],
    });
    assert.equal(((pi.latest_charge as Stripe.Charge).payment_intent as Stripe.PaymentIntent).id, pi.id);
    assert.equal(((pi.payment_method as Stripe.PaymentMethod).customer as Stripe.Customer).id, cus);
    await sb.stripe.customers.del(cus);
    const gone = await sb.stripe.paymentIntents.retrieve(pi.id, { expand: ['customer.invoice_settings.default_payment_method'] });
    assert.deepEqual(gone.customer, { id: cus, object: 'customer', deleted: true });
    await assert.rejects(sb.stripe.paymentIntents.retrieve(pi.id, { expand: ['nonsense'] }), cannotExpand('nonsense'));
    await assert.rejects(sb.stripe.charges.list({ payment_intent: pi.id, expand: ['payment_intent'] }), cannotExpand('payment_intent'));
    await assert.rejects(
      sb.stripe.charges.list({ payment_intent: pi.id, expand: ['data.payment_method'] }),
      cannotExpand('data.payment_method'),
    );
  });
});
