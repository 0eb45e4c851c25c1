// Idempotency-Key semantics: replay, other params, a key in use.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { fingerprintKeyLoader } from '../src/api/fingerprint.ts';
import { paramsHash } from '../src/api/idempotency.ts';
import { card, PK, raw, SK, startSandbox, type Sandbox } from './harness.ts';

describe('idempotency keys', () => {
  let sb: Sandbox;
  let slow: Sandbox;
  before(async () => {
    sb = await startSandbox();
    slow = await startSandbox({ latencyMs: 400 });
  });
  after(async () => {
    await sb.close();
    await slow.close();
  });

  test('a replay gives the identical status and body with Idempotent-Replayed: true, and no second effect', async () => {
    const form = { email: 'same@example.com', 'metadata[account_id]': 'acct-9' };
    const first = await raw(sb.url, 'POST', '/v1/customers', { form, idempotencyKey: 'customer:acct-9' });
    const again = await raw(sb.url, 'POST', '/v1/customers', { form, idempotencyKey: 'customer:acct-9' });
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.headers.get('original-request'), first.headers.get('request-id'));
    const { rows } = await sb.db.pool.query(`select count(*)::int as n from gateway_sandbox.customers where email = 'same@example.com'`);
    assert.equal(rows[0].n, 1);
    // Through the SDK: the same key gives the same customer.
    const a = await sb.stripe.customers.create({ email: 'sdk@example.com' }, { idempotencyKey: 'sdk-key-1' });
    const b = await sb.stripe.customers.create({ email: 'sdk@example.com' }, { idempotencyKey: 'sdk-key-1' });
    assert.equal(a.id, b.id);
    assert.equal(b.lastResponse.headers['idempotent-replayed'], 'true');
  });

  test('a replay’s bytes are the first answer’s, 200 and 402 alike; a record stored before body_text still replays', async () => {
    const send = async (path: string, form: Record<string, string>, key: string) => {
      const res = await fetch(sb.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${SK}`, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': key },
        body: new URLSearchParams(form).toString(),
      });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    };
    const form = { email: 'bytes@example.com', name: 'Bytes', 'metadata[account_id]': 'acct-b' };
    const first = await send('/v1/customers', form, 'bytes-1');
    const again = await send('/v1/customers', form, 'bytes-1');
    assert.equal(first.status, 200);
    // jsonb would give `{"id": …, "name": …, "email": …` (shortest keys first) instead of the object's order.
    assert.ok(first.text.startsWith('{"id":"cus_'), first.text.slice(0, 40));
    assert.equal(again.text, first.text);
    assert.equal(again.type, first.type);
    const declined = { amount: '700', currency: 'usd', 'allowed_payment_method_types[0]': 'card' };
    const pi = await send('/v1/payment_intents', { ...declined, payment_method: 'pm_card_chargeDeclined', confirm: 'true' }, 'bytes-2');
    const piAgain = await send(
      '/v1/payment_intents',
      { ...declined, payment_method: 'pm_card_chargeDeclined', confirm: 'true' },
      'bytes-2',
    );
    assert.equal(pi.status, 402);
    assert.equal(piAgain.status, 402);
    assert.equal(piAgain.text, pi.text);
    // A record from before migration 005 (jsonb only) is replayed from it.
    const keyHash = createHash('sha256').update(SK).digest('hex');
    await sb.db.pool.query(
      `insert into gateway_sandbox.idempotency_keys (api_key_hash, key, method, path, params_hash, status, body, request_id)
       values ($1, 'old-row', 'POST', '/v1/customers', $2, 200, '{"id": "cus_old", "object": "customer"}', 'req_old')`,
      [keyHash, paramsHash(await fingerprintKeyLoader(sb.db.pool)(), { email: 'old@example.com' })],
    );
    const old = await raw(sb.url, 'POST', '/v1/customers', { form: { email: 'old@example.com' }, idempotencyKey: 'old-row' });
    assert.deepEqual([old.status, old.body, old.headers.get('original-request')], [200, { id: 'cus_old', object: 'customer' }, 'req_old']);
  });

  test('a declined confirm replays its 402 (same charge), it does not charge again', async () => {
    const customer = await sb.stripe.customers.create({});
    const pm = await card(sb, '4000000000000341');
    await sb.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    const pi = await sb.stripe.paymentIntents.create(
      { amount: 900, currency: 'usd', allowed_payment_method_types: ['card'], customer: customer.id },
      { idempotencyKey: 'inv-1' },
    );
    const confirm = () =>
      sb.stripe.paymentIntents
        .confirm(pi.id, { payment_method: pm.id, off_session: true }, { idempotencyKey: 'inv-1:attempt:1' })
        .catch((e) => e);
    const e1 = await confirm();
    const e2 = await confirm();
    assert.ok(e1 instanceof Stripe.errors.StripeCardError);
    assert.ok(e2 instanceof Stripe.errors.StripeCardError);
    assert.equal((e2.raw as any).charge, (e1.raw as any).charge);
    assert.equal(e2.headers?.['idempotent-replayed'], 'true');
    assert.equal((await sb.stripe.charges.list({ payment_intent: pi.id })).data.length, 1);
  });

  test('the same key with other params is a StripeIdempotencyError', async () => {
    await sb.stripe.customers.create({ email: 'one@example.com' }, { idempotencyKey: 'reused' });
    await assert.rejects(sb.stripe.customers.create({ email: 'two@example.com' }, { idempotencyKey: 'reused' }), (err: any) => {
      assert.ok(err instanceof Stripe.errors.StripeIdempotencyError, err.constructor.name);
      assert.equal(err.statusCode, 400);
      assert.match(err.message, /^Keys for idempotent requests can only be used with the same parameters they were first used with/);
      return true;
    });
    const otherPath = await raw(sb.url, 'POST', '/v1/setup_intents', { form: { email: 'one@example.com' }, idempotencyKey: 'reused' });
    assert.equal(otherPath.status, 400);
  });

  test('keys are scoped to the API key', async () => {
    const pmForm = { type: 'card', 'card[token]': 'tok_visa' };
    const bySecret = await raw(sb.url, 'POST', '/v1/payment_methods', { form: pmForm, idempotencyKey: 'scoped' });
    const byPublishable = await raw(sb.url, 'POST', '/v1/payment_methods', {
      key: PK,
      form: pmForm,
      idempotencyKey: 'scoped',
    });
    assert.equal(bySecret.status, 200);
    assert.equal(byPublishable.status, 200);
    assert.notEqual(bySecret.body.id, byPublishable.body.id);
    assert.equal(byPublishable.headers.get('idempotent-replayed'), null);
  });

  test('validation failures are not stored: the key can be used again with good params', async () => {
    const bad = await raw(sb.url, 'POST', '/v1/payment_intents', { form: { amount: 'lots', currency: 'usd' }, idempotencyKey: 'fix-me' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.param, 'amount');
    const good = await raw(sb.url, 'POST', '/v1/payment_intents', { form: { amount: '1200', currency: 'usd' }, idempotencyKey: 'fix-me' });
    assert.equal(good.status, 200);
  });

  test('two concurrent requests with one key: one executes, the other gets 409 idempotency_key_in_use', async () => {
    const form = { email: 'race@example.com' };
    const [a, b] = await Promise.all([
      raw(slow.url, 'POST', '/v1/customers', { form, idempotencyKey: 'race' }),
      raw(slow.url, 'POST', '/v1/customers', { form, idempotencyKey: 'race' }),
    ]);
    const statuses = [a.status, b.status].sort();
    assert.deepEqual(statuses, [200, 409]);
    const conflict = a.status === 409 ? a : b;
    assert.equal(conflict.body.error.type, 'invalid_request_error');
    assert.equal(conflict.body.error.code, 'idempotency_key_in_use');
    const { rows } = await slow.db.pool.query(`select count(*)::int as n from gateway_sandbox.customers where email = 'race@example.com'`);
    assert.equal(rows[0].n, 1);
    // Once the first answered, the key replays.
    const later = await raw(slow.url, 'POST', '/v1/customers', { form, idempotencyKey: 'race' });
    assert.equal(later.headers.get('idempotent-replayed'), 'true');
  });

  test('the SDK retries a 409 with the same key and gets the replay', async () => {
    const form = { email: 'retry@example.com' };
    const rawFirst = raw(slow.url, 'POST', '/v1/customers', { form, idempotencyKey: 'sdk-retry' });
    await new Promise((r) => setTimeout(r, 100));
    const viaSdk = await slow.stripe.customers.create({ email: 'retry@example.com' }, { idempotencyKey: 'sdk-retry' });
    const first = await rawFirst;
    assert.equal(viaSdk.id, first.body.id);
  });
});
