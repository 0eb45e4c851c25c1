import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { ChargeGateway } from './gateway-calls.ts';
import { isStoredServerError } from '@vault/gateway';
import { endpointFor, forgetEndpoint, renewEndpointKey, saveEndpoint } from './endpoint-store.ts';

/** Where the gateway delivers invoicing's webhooks: under INVOICING_URL's path (a proxy may serve invoicing at a prefix). */
export function webhookUrl(invoicingUrl: string): string {
  const url = new URL(invoicingUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/gateway/webhooks`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/**
 * `url` as logged: a password (basic auth for a proxy in front of invoicing,
 * which Stripe supports in a webhook URL) masked; the endpoint keeps it.
 */
export function loggedUrl(url: string): string {
  const copy = new URL(url);
  if (copy.password !== '') copy.password = '***';
  return copy.toString();
}

/**
 * Makes sure the gateway has invoicing's webhook endpoint at `url` and that
 * its secret is stored. A stored endpoint the gateway still knows is reused;
 * otherwise it is registered with the key stored beforehand, so a crash
 * between the request and the write replays the same registration.
 */
export async function ensureWebhookEndpoint(pool: pg.Pool, gateway: ChargeGateway, url: string, log: Logger): Promise<void> {
  let stored = await endpointFor(pool, url, `webhook-endpoint:${randomUUID()}`);
  const shown = loggedUrl(url);
  if (stored.endpointId) {
    if (await gateway.webhookEndpointExists(stored.endpointId)) {
      log.info('webhook_endpoint.reused', { url: shown, endpoint_id: stored.endpointId });
      return;
    }
    log.warn('webhook_endpoint.missing', { url: shown, endpoint_id: stored.endpointId });
    await forgetEndpoint(pool, url, stored.endpointId);
    stored = await endpointFor(pool, url, `webhook-endpoint:${randomUUID()}`);
    if (stored.endpointId) {
      // Another process registered its successor meanwhile (its secret stored): that one is kept.
      log.info('webhook_endpoint.reused', { url: shown, endpoint_id: stored.endpointId });
      return;
    }
  }
  const endpoint = await gateway.registerWebhookEndpoint(url, stored.idempotencyKey).catch(async (err: unknown) => {
    // A 500 is kept under the key and replayed for a day: what it made is dropped, and the next run uses a new key.
    if (isStoredServerError(err)) await afterServerError(pool, gateway, url, stored.idempotencyKey, log);
    throw err;
  });
  await saveEndpoint(pool, url, endpoint);
  log.info('webhook_endpoint.registered', { url: shown, endpoint_id: endpoint.id });
}

/**
 * After a 500 registering under `key`: the endpoint it may have made (its secret never seen) is deleted, then a
 * new key is stored for the next run. Not read (a stand-in gateway, or the gateway failing again): the key stays.
 */
async function afterServerError(pool: pg.Pool, gateway: ChargeGateway, url: string, key: string, log: Logger): Promise<void> {
  if (!gateway.dropEndpointsRegisteredUnder) return;
  const dropped = await gateway.dropEndpointsRegisteredUnder(url, key).catch((err: unknown) => {
    log.warn('webhook_endpoint.reconcile_failed', { url: loggedUrl(url), error: err instanceof Error ? err.message : String(err) });
    return undefined;
  });
  if (dropped === undefined) return;
  await renewEndpointKey(pool, url, key, `webhook-endpoint:${randomUUID()}`);
  log.warn('webhook_endpoint.key_renewed', { url: loggedUrl(url), reason: 'server_error', dropped: dropped.join(',') || 'none' });
}
