import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewaySettings, parseConfig } from '@vault/runtime/variables';
import { gatewayConfig, GatewayConfigError, SANDBOX_PUBLISHABLE_KEY, SANDBOX_SECRET_KEY } from '../src/index.ts';

const config = (env: Record<string, string>) => gatewayConfig(parseConfig(GatewaySettings, env));

describe('gateway configuration', () => {
  test('unset: the local sandbox on GATEWAY_PORT with its own keys, its Stripe.js at /v3/', () => {
    const c = config({ GATEWAY_PORT: '4555' });
    assert.equal(c.url.toString(), 'http://localhost:4555/');
    assert.equal(c.secretKey, SANDBOX_SECRET_KEY);
    assert.equal(c.publishableKey, SANDBOX_PUBLISHABLE_KEY);
    assert.equal(c.jsUrl.toString(), 'http://localhost:4555/v3/');
    assert.deepEqual(c.origins, ['http://localhost:4555']);
  });

  test("Stripe's API: Stripe.js from js.stripe.com, both origins allowed", () => {
    const c = config({ GATEWAY_URL: 'https://api.stripe.com', GATEWAY_SECRET_KEY: 'sk_test_x', GATEWAY_PUBLISHABLE_KEY: 'pk_test_x' });
    assert.equal(c.jsUrl.toString(), 'https://js.stripe.com/v3/');
    assert.deepEqual(c.origins, ['https://api.stripe.com', 'https://js.stripe.com']);
  });

  test('a configured GATEWAY_URL without keys is refused at boot, naming both variables', () => {
    assert.throws(
      () => config({ GATEWAY_URL: 'https://api.stripe.com' }),
      (err: unknown) => {
        assert.ok(err instanceof GatewayConfigError);
        assert.match(err.message, /GATEWAY_SECRET_KEY and GATEWAY_PUBLISHABLE_KEY/);
        return true;
      },
    );
  });
});
