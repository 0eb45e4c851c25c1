import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { ChargeGateway } from './gateway-calls.ts';
import { endpointFor, endpointsElsewhere, forgetEndpoint, saveEndpoint } from './store.ts';

/** Where the gateway delivers invoicing's webhooks: under INVOICING_URL's path (a proxy may serve invoicing at a prefix). */
export function webhookUrl(invoicingUrl: string): string {
  const url = new URL(invoicingUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/gateway/webhooks`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/**
 * Makes sure the gateway has invoicing's webhook endpoint at `url` and that
 * its secret is stored. A stored endpoint the gateway still knows is reused;
 * otherwise it is registered with the key stored beforehand, so a crash
 * between the request and the write replays the same registration. Then the
 * endpoints of an earlier INVOICING_URL are retired.
 */
export async function ensureWebhookEndpoint(pool: pg.Pool, gateway: ChargeGateway, url: string, log: Logger): Promise<void> {
  let stored = await endpointFor(pool, url, `webhook-endpoint:${randomUUID()}`);
  if (stored.endpointId) {
    if (await gateway.webhookEndpointExists(stored.endpointId)) {
      log.info('webhook_endpoint.reused', { url, endpoint_id: stored.endpointId });
      await retireOthers(pool, gateway, url, log);
      return;
    }
    log.warn('webhook_endpoint.missing', { url, endpoint_id: stored.endpointId });
    await forgetEndpoint(pool, url);
    stored = await endpointFor(pool, url, `webhook-endpoint:${randomUUID()}`);
  }
  const endpoint = await gateway.registerWebhookEndpoint(url, stored.idempotencyKey);
  await saveEndpoint(pool, url, endpoint);
  log.info('webhook_endpoint.registered', { url, endpoint_id: endpoint.id });
  await retireOthers(pool, gateway, url, log);
}

/**
 * Deletes, at the gateway and then here, the endpoints of an earlier
 * INVOICING_URL, once the current one is registered: the gateway would go on
 * delivering to the old address, and their secrets would still be accepted.
 * A registration whose answer was lost (no id stored) is replayed with its
 * key to learn the id. A crash in between repeats the deletion next boot.
 */
async function retireOthers(pool: pg.Pool, gateway: ChargeGateway, url: string, log: Logger): Promise<void> {
  for (const old of await endpointsElsewhere(pool, url)) {
    const id = old.endpointId ?? (await gateway.registerWebhookEndpoint(old.url, old.idempotencyKey)).id;
    await gateway.deleteWebhookEndpoint(id);
    await forgetEndpoint(pool, old.url);
    log.info('webhook_endpoint.retired', { url: old.url, endpoint_id: id });
  }
}
