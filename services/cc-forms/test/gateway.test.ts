// The SDK side of CardGateway (what the fake stands in for elsewhere): the
// requests the official SDK sends for each call, and how the gateway's
// answers come back. A stub HTTP server plays the gateway and records.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gatewayClient } from '@vault/gateway';
import { GatewayUnavailable, sdkCardGateway, type CardGateway } from '../src/cards/gateway.ts';

interface Seen {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  form: Record<string, string>;
}

/** path → [status, JSON body] */
const ANSWERS: Record<string, [number, object]> = {
  'POST /v1/customers': [200, { id: 'cus_1', object: 'customer' }],
  'POST /v1/setup_intents': [200, { id: 'seti_1', object: 'setup_intent', client_secret: 'seti_1_secret_abc' }],
  'GET /v1/setup_intents/seti_1': [
    200,
    {
      id: 'seti_1',
      object: 'setup_intent',
      status: 'succeeded',
      customer: 'cus_1',
      payment_method: { id: 'pm_1', object: 'payment_method' },
    },
  ],
  'GET /v1/setup_intents/seti_gone': [
    404,
    { error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such setupintent' } },
  ],
  'GET /v1/payment_methods/pm_1': [
    200,
    {
      id: 'pm_1',
      object: 'payment_method',
      customer: { id: 'cus_1', object: 'customer' },
      card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034, fingerprint: 'Xt5EWLLDS7FJjR1c' },
    },
  ],
  'POST /v1/customers/cus_1': [200, { id: 'cus_1', object: 'customer' }],
  'GET /v1/payment_methods/pm_refused': [401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } }],
  'POST /v1/customers/cus_slow': [200, { id: 'cus_slow', object: 'customer' }],
  'POST /v1/customers/cus_down': [503, { error: { type: 'api_error', message: 'Unavailable' } }],
};
/** Answered this late (a slow gateway). */
const SLOW: Record<string, number> = { 'POST /v1/customers/cus_slow': 1_500 };
/** The test's bound on makeDefault (MAKE_DEFAULT_TIMEOUT_MS in production). */
const MAKE_DEFAULT_TIMEOUT_MS = 300;

describe('the card gateway through the official SDK', () => {
  let server: Server;
  let gateway: CardGateway;
  const seen: Seen[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const path = req.url!.split('?')[0]!;
        const key = req.headers['idempotency-key'];
        seen.push({
          method: req.method!,
          path,
          idempotencyKey: typeof key === 'string' ? key : undefined,
          form: Object.fromEntries(new URLSearchParams(body)),
        });
        const [status, answer] = ANSWERS[`${req.method} ${path}`] ?? [500, { error: { type: 'api_error' } }];
        const send = () =>
          res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_stub' }).end(JSON.stringify(answer));
        setTimeout(send, SLOW[`${req.method} ${path}`] ?? 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    gateway = sdkCardGateway(gatewayClient({ url: new URL(`http://127.0.0.1:${port}`), secretKey: 'sk_test_stub' }), {
      makeDefaultTimeoutMs: MAKE_DEFAULT_TIMEOUT_MS,
    });
  });
  after(() => {
    server?.close();
  });

  const last = () => seen[seen.length - 1]!;

  test('a customer is created under the idempotency key given (the account’s stored one) and the account in its metadata', async () => {
    assert.equal(await gateway.createCustomer('acct-1', 'customer-0123abcd'), 'cus_1');
    assert.equal(last().idempotencyKey, 'customer-0123abcd');
    assert.deepEqual(last().form, { description: 'The Vault account acct-1', 'metadata[account_id]': 'acct-1' });
  });

  test('a setup intent is for off-session use by the customer; its id and client secret come back', async () => {
    assert.deepEqual(await gateway.createSetupIntent('cus_1', 'acct-1'), { id: 'seti_1', clientSecret: 'seti_1_secret_abc' });
    assert.deepEqual(last().form, { customer: 'cus_1', usage: 'off_session', 'metadata[account_id]': 'acct-1' });
  });

  test('a setup intent and a payment method read back with ids whether or not the gateway expanded them; a missing one is undefined', async () => {
    assert.deepEqual(await gateway.setupIntent('seti_1'), {
      id: 'seti_1',
      status: 'succeeded',
      customerId: 'cus_1',
      paymentMethodId: 'pm_1',
    });
    assert.equal(await gateway.setupIntent('seti_gone'), undefined);
    assert.deepEqual(await gateway.paymentMethod('pm_1'), {
      id: 'pm_1',
      customerId: 'cus_1',
      brand: 'visa',
      last4: '4242',
      expMonth: 12,
      expYear: 2034,
      fingerprint: 'Xt5EWLLDS7FJjR1c',
    });
  });

  test('making a card the default sets the customer’s invoice_settings[default_payment_method]', async () => {
    await gateway.makeDefault('cus_1', 'pm_1');
    assert.deepEqual(
      [last().method, last().path, last().form],
      ['POST', '/v1/customers/cus_1', { 'invoice_settings[default_payment_method]': 'pm_1' }],
    );
  });

  test('making a card the default is one short try (it runs under the account’s card lock): a slow gateway times out, a 5xx is not retried', async () => {
    const started = Date.now();
    const slow = await gateway.makeDefault('cus_slow', 'pm_1').catch((e: unknown) => e);
    assert.ok(slow instanceof GatewayUnavailable, String(slow));
    assert.equal(slow.errorClass, 'StripeConnectionError');
    assert.ok(Date.now() - started < 1_000, `answered after ${Date.now() - started} ms, not the gateway's 1.5 s`);
    const down = await gateway.makeDefault('cus_down', 'pm_1').catch((e: unknown) => e);
    assert.ok(down instanceof GatewayUnavailable, String(down));
    assert.equal(seen.filter((r) => r.path === '/v1/customers/cus_down').length, 1, 'no retry');
    // Other calls keep the client's retries.
    await gateway.setupIntent('seti_retried').catch(() => undefined);
    assert.equal(seen.filter((r) => r.path === '/v1/setup_intents/seti_retried').length, 3);
  });

  test('any other refusal is GatewayUnavailable with the SDK’s error class and the request id, and nothing of the message', async () => {
    const err = await gateway.paymentMethod('pm_refused').catch((e: unknown) => e);
    assert.ok(err instanceof GatewayUnavailable, String(err));
    assert.deepEqual([err.errorClass, err.requestId], ['StripeAuthenticationError', 'req_stub']);
    assert.doesNotMatch(err.message, /API Key/);
  });
});
