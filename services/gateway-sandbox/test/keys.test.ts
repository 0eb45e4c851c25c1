// Issue 15: the sandbox's API keys are generated per installation (its
// migration 002, kept in its database, where the other apps read them), never
// a constant every installation shares; GATEWAY_SECRET_KEY and
// GATEWAY_PUBLISHABLE_KEY, when configured, are the keys instead.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sandboxKeys } from '@vault/gateway';
import {
  freePort,
  freshDatabase,
  startService,
  TEST_GATEWAY_PUBLISHABLE_KEY,
  TEST_GATEWAY_SECRET_KEY,
  type RunningService,
  type TestDatabase,
} from '@vault/testkit';
import { raw } from './harness.ts';

/** The keys every installation had before issue 15, which anyone who read the source knew. */
const OLD_CONSTANT_KEYS = ['sk_test_vault_sandbox', 'pk_test_vault_sandbox'];

describe('the sandbox’s keys, per installation', () => {
  const dbs: TestDatabase[] = [];
  const running: RunningService[] = [];
  const start = async (db: TestDatabase, env: Record<string, string> = {}) => {
    const service = await startService('gateway-sandbox', {
      DATABASE_URL: db.url,
      GATEWAY_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      ...env,
    });
    running.push(service);
    return service;
  };
  before(async () => {
    dbs.push(await freshDatabase('gwkeys_a'), await freshDatabase('gwkeys_b'));
  });
  after(async () => {
    await Promise.all(running.map((s) => s.kill('SIGTERM')));
    await Promise.all(dbs.map((d) => d.drop()));
  });

  test('generated at the first boot, different in each database, kept across restarts; the old constants and the other’s keys are refused', async () => {
    const [a, b] = [await start(dbs[0]!), await start(dbs[1]!)];
    const [keysA, keysB] = [await sandboxKeys(dbs[0]!.pool), await sandboxKeys(dbs[1]!.pool)];
    assert.match(keysA.secretKey, /^sk_test_[0-9a-f]{64}$/);
    assert.match(keysA.publishableKey, /^pk_test_[0-9a-f]{32}$/);
    assert.notEqual(keysA.secretKey, keysB.secretKey);
    assert.notEqual(keysA.publishableKey, keysB.publishableKey);
    assert.ok(a.lines.some((l) => l.includes('event=gateway.sandbox_ready') && l.includes('keys=generated')));
    assert.ok(!a.lines.some((l) => l.includes(keysA.secretKey)), 'the secret key is never logged');

    assert.equal((await raw(a.url, 'GET', '/v1/customers', { key: keysA.secretKey })).status, 200);
    for (const key of [keysB.secretKey, ...OLD_CONSTANT_KEYS]) {
      assert.equal((await raw(a.url, 'GET', '/v1/customers', { key })).status, 401, key);
    }
    assert.equal((await fetch(`${a.url}/elements/card?key=${keysA.publishableKey}`)).status, 200);
    assert.equal((await fetch(`${a.url}/elements/card?key=${OLD_CONSTANT_KEYS[1]}`)).status, 400);
    assert.equal((await fetch(`${b.url}/elements/card?key=${keysA.publishableKey}`)).status, 400);

    await a.kill('SIGKILL');
    const again = await start(dbs[0]!);
    assert.deepEqual(await sandboxKeys(dbs[0]!.pool), keysA);
    assert.equal((await raw(again.url, 'GET', '/v1/customers', { key: keysA.secretKey })).status, 200);
    await again.kill('SIGTERM');
  });

  test('the key check is the matched route’s: a percent-encoded /v1 reaches the same routes and the same check', async () => {
    const sandbox = await start(dbs[1]!, {
      GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
      GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
    });
    for (const [method, path] of [
      ['GET', '/%761/customers'],
      ['GET', '/%76%31/webhook_endpoints'],
      ['GET', '/v%31/events'],
      ['POST', '/%761/refunds'],
      ['POST', '/%761/customers'],
    ] as const) {
      const form = method === 'POST' ? { form: {} } : {};
      assert.equal((await raw(sandbox.url, method, path, { key: null, ...form })).status, 401, `${method} ${path} without a key`);
      const publishable = await raw(sandbox.url, method, path, { key: TEST_GATEWAY_PUBLISHABLE_KEY, ...form });
      assert.equal(publishable.status, 403, `${method} ${path} with the publishable key`);
    }
    assert.equal((await raw(sandbox.url, 'GET', '/%761/customers', { key: TEST_GATEWAY_SECRET_KEY })).status, 200, 'the secret key reads');
  });

  test('configured keys are the keys: the generated ones are then refused', async () => {
    const configured = await start(dbs[0]!, {
      GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
      GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
    });
    assert.ok(configured.lines.some((l) => l.includes('event=gateway.sandbox_ready') && l.includes('keys=configured')));
    assert.equal((await raw(configured.url, 'GET', '/v1/customers', { key: TEST_GATEWAY_SECRET_KEY })).status, 200);
    const generated = await sandboxKeys(dbs[0]!.pool);
    assert.equal((await raw(configured.url, 'GET', '/v1/customers', { key: generated.secretKey })).status, 401);
  });

  test('with Stripe’s API as the gateway, its configured keys are never the sandbox’s: the secret key is refused, its own works', async () => {
    // compose's environment once .env names Stripe: every app, the sandbox included, gets the keys.
    const stripe = { secretKey: 'sk_live_vault_test_not_a_real_key', publishableKey: 'pk_live_vault_test_not_a_real_key' };
    const sandbox = await start(dbs[0]!, {
      GATEWAY_URL: 'https://api.stripe.com',
      GATEWAY_JS_URL: 'https://js.stripe.com/v3/',
      GATEWAY_SECRET_KEY: stripe.secretKey,
      GATEWAY_PUBLISHABLE_KEY: stripe.publishableKey,
    });
    assert.equal((await raw(sandbox.url, 'GET', '/v1/customers', { key: stripe.secretKey })).status, 401);
    assert.equal((await fetch(`${sandbox.url}/elements/card?key=${stripe.publishableKey}`)).status, 400);
    const own = await sandboxKeys(dbs[0]!.pool);
    assert.equal((await raw(sandbox.url, 'GET', '/v1/customers', { key: own.secretKey })).status, 200);
    assert.equal(sandbox.lines.filter((l) => l.includes('event=gateway.sandbox_own_keys')).length, 1, 'said once');
    assert.ok(sandbox.lines.some((l) => l.includes('event=gateway.sandbox_ready') && l.includes('keys=generated')));
    assert.ok(!sandbox.lines.some((l) => l.includes(stripe.secretKey)), 'the secret key is never logged');
  });
});
