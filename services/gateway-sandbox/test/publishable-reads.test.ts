// What the publishable key (Stripe.js, the customer's browser) sees of a
// PaymentIntent or SetupIntent, through the official SDK: its metadata redacted, as Stripe
// redacts metadata from answers to publishable-key requests
// (docs.stripe.com/metadata); the secret key still reads it. And customer
// emails, which Stripe checks (email_invalid).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { browserClient, card, startSandbox, type Sandbox } from './harness.ts';

describe('the publishable key sees no metadata; customer emails are checked', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  const metadata = { invoice_id: 'inv_1', account_id: 'acct_1', number: 'V-0001' };
  const intent = () =>
    sb.stripe.paymentIntents.create({
      amount: 1500,
      currency: 'usd',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata,
    });

  test('a PaymentIntent read or confirmed with the publishable key has metadata {}, a declined one’s error too; the secret key reads it', async () => {
    const browser = browserClient(sb);
    const pi = await intent();
    const read = await browser.paymentIntents.retrieve(pi.id, { client_secret: pi.client_secret! });
    assert.deepEqual([read.id, read.amount, read.metadata], [pi.id, 1500, {}]);
    // Stripe.js sends the client secret with the confirm; the SDK's types leave it out.
    const asBrowser = async (number: string) =>
      ({ client_secret: pi.client_secret!, payment_method: (await card(browser, number)).id }) as Stripe.PaymentIntentConfirmParams;
    const declined = await browser.paymentIntents.confirm(pi.id, await asBrowser('4000000000000002')).catch((e: unknown) => e);
    assert.ok(declined instanceof Stripe.errors.StripeCardError, String(declined));
    assert.deepEqual(declined.payment_intent?.metadata, {});
    const paid = await browser.paymentIntents.confirm(pi.id, await asBrowser('4242424242424242'));
    assert.deepEqual([paid.status, paid.metadata], ['succeeded', {}]);
    assert.deepEqual((await sb.stripe.paymentIntents.retrieve(pi.id)).metadata, metadata);
  });

  test('a customer email that is not an address is 400 email_invalid naming email, on create and update; nothing stored', async () => {
    const invalid = (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, String(err));
      assert.deepEqual([err.statusCode, err.code, err.param], [400, 'email_invalid', 'email']);
      assert.match(err.message, /^Invalid email address: not-an-email$/);
      return true;
    };
    await assert.rejects(sb.stripe.customers.create({ email: 'not-an-email' }, { idempotencyKey: 'email-1' }), invalid);
    const { rows } = await sb.db.pool.query<{ n: number }>('select count(*)::int as n from gateway_sandbox.customers');
    assert.equal(rows[0]!.n, 0);
    // Not stored under the key: corrected, the same key creates.
    const customer = await sb.stripe.customers.create({ email: 'a@example.com' }, { idempotencyKey: 'email-1' });
    assert.equal(customer.email, 'a@example.com');
    await assert.rejects(sb.stripe.customers.update(customer.id, { email: 'not-an-email' }), invalid);
    assert.equal(((await sb.stripe.customers.retrieve(customer.id, {})) as Stripe.Customer).email, 'a@example.com');
    // '' still unsets it.
    assert.equal((await sb.stripe.customers.update(customer.id, { email: '' })).email, null);
  });

  test('a SetupIntent read or confirmed with the publishable key has metadata {}, in its errors too; the secret key reads it', async () => {
    const browser = browserClient(sb);
    const { id: customer } = await sb.stripe.customers.create({});
    // As cc-forms makes them: the account's id in the metadata.
    const setup = () => sb.stripe.setupIntents.create({ customer, usage: 'off_session', metadata: { account_id: 'acct_1' } });
    // Stripe.js sends the client secret with the confirm; the SDK's types leave it out.
    const asBrowser = async (si: Stripe.SetupIntent, number: string) =>
      ({ client_secret: si.client_secret!, payment_method: (await card(browser, number)).id }) as Stripe.SetupIntentConfirmParams;
    const declinedSi = await setup();
    const read = await browser.setupIntents.retrieve(declinedSi.id, {
      client_secret: declinedSi.client_secret!,
    } as Stripe.SetupIntentRetrieveParams);
    assert.deepEqual([read.id, read.metadata], [declinedSi.id, {}]);
    const declined = await browser.setupIntents
      .confirm(declinedSi.id, await asBrowser(declinedSi, '4000000000000002'))
      .catch((e: unknown) => e);
    assert.ok(declined instanceof Stripe.errors.StripeCardError, String(declined));
    assert.equal(declined.setup_intent?.id, declinedSi.id);
    assert.deepEqual(declined.setup_intent?.metadata, {});
    // Spent for the browser: the refusal carries the SetupIntent, redacted too.
    const spent = await browser.setupIntents
      .confirm(declinedSi.id, await asBrowser(declinedSi, '4242424242424242'))
      .catch((e: unknown) => e);
    assert.ok(spent instanceof Stripe.errors.StripeInvalidRequestError, String(spent));
    assert.equal(spent.code, 'setup_intent_unexpected_state');
    assert.deepEqual(spent.setup_intent?.metadata, {});
    const si = await setup();
    const saved = await browser.setupIntents.confirm(si.id, await asBrowser(si, '4242424242424242'));
    assert.deepEqual([saved.status, saved.metadata], ['succeeded', {}]);
    assert.deepEqual((await sb.stripe.setupIntents.retrieve(si.id)).metadata, { account_id: 'acct_1' });
    assert.deepEqual((await sb.stripe.setupIntents.retrieve(declinedSi.id)).metadata, { account_id: 'acct_1' });
  });
});
