// The webhook endpoints a registration under one idempotency key made, found by the
// key in their metadata. After a 500 under the key (kept by the gateway and replayed
// for a day) such an endpoint may exist, its signing secret never seen by us: the
// gateway would deliver to it signed with a secret no process of ours knows. It is
// deleted before the registration goes again under a new key.
import type { Gateway } from '@vault/gateway';

/** The metadata field naming the idempotency key an endpoint was registered under. */
export const REGISTRATION_KEY = 'vault_registration_key';

export async function dropEndpointsRegisteredUnder(stripe: Gateway, url: string, key: string): Promise<string[]> {
  const dropped: string[] = [];
  // Stripe allows an account 16 endpoints: the first page holds them all; the SDK pages on regardless.
  for await (const endpoint of stripe.webhookEndpoints.list({ limit: 100 })) {
    if (endpoint.url !== url || endpoint.metadata?.[REGISTRATION_KEY] !== key) continue;
    await stripe.webhookEndpoints.del(endpoint.id);
    dropped.push(endpoint.id);
  }
  return dropped;
}
