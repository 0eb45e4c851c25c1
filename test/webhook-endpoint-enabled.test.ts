// Invoicing's webhook endpoint is how a payment the cardholder confirmed on our
// page (after 3-D Secure) is heard. Stripe disables an endpoint whose deliveries
// kept failing; at boot invoicing reuses its registered endpoint only once it is
// enabled again. Through the official SDK against the real sandbox.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Stripe } from '@vault/gateway';
import { chargeGateway, WEBHOOK_EVENTS } from '../services/invoicing/src/charging/gateway-calls.ts';
import { chargingWorld, type ChargingWorld } from './charging-harness.ts';

describe("invoicing's webhook endpoint (the real sandbox)", () => {
  let w: ChargingWorld;
  before(async () => {
    w = await chargingWorld('endpoint_enabled');
  });
  after(async () => {
    await w?.close();
  });

  test('a registered endpoint the gateway disabled is enabled again when it is checked; one it lost is not found', async () => {
    const gateway = chargeGateway(w.sdk);
    const { id } = await gateway.registerWebhookEndpoint('http://127.0.0.1:9/v1/gateway/webhooks', `endpoint-enabled-${Date.now()}`);
    await w.sdk.webhookEndpoints.update(id, { disabled: true });
    assert.equal((await w.sdk.webhookEndpoints.retrieve(id)).status, 'disabled');
    assert.equal(await gateway.webhookEndpointExists(id), true);
    const endpoint = await w.sdk.webhookEndpoints.retrieve(id);
    assert.equal(endpoint.status, 'enabled');
    assert.deepEqual([...endpoint.enabled_events].sort(), [...WEBHOOK_EVENTS].sort(), 'its events unchanged');
    await w.sdk.webhookEndpoints.del(id);
    assert.equal(await gateway.webhookEndpointExists(id), false);
  });

  test("the endpoint is registered at the API version the SDK reads, not the account's default", async () => {
    const { id } = await chargeGateway(w.sdk).registerWebhookEndpoint(
      'http://127.0.0.1:9/v1/gateway/webhooks',
      `endpoint-version-${Date.now()}`,
    );
    assert.equal((await w.sdk.webhookEndpoints.retrieve(id)).api_version, Stripe.API_VERSION);
    await w.sdk.webhookEndpoints.del(id);
  });
});
