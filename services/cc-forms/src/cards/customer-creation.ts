// The account's gateway customer, created under the account's stored random key
// (customerKey). A 500 under that key is kept by the gateway and answered to every
// retry under it for 24 h (Stripe-Should-Retry: false): the account could not save a
// card for a day. So after a 500 the gateway is asked what the failed request made
// (its customer.created event names the key): that customer is the account's;
// none, and a new key is stored for the next try. Never two customers for one key's work.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import { type CardGateway, GatewayUnavailable } from './gateway.ts';
import { customerKey, renewCustomerKey } from './store.ts';

/** The customer's id at the gateway: made now, replayed under the stored key, or found after a 500. */
export async function createAccountCustomer(
  deps: { pool: pg.Pool; gateway: CardGateway; log: Logger },
  accountId: string,
): Promise<string> {
  const key = await customerKey(deps.pool, accountId);
  try {
    return await deps.gateway.createCustomer(accountId, key);
  } catch (err) {
    // Only a 500 is kept under the key (a 502-504 from a proxy is not, and the same key is right).
    const serverError = err instanceof GatewayUnavailable && err.statusCode === 500;
    if (!serverError || !deps.gateway.customerCreatedUnder) throw err;
    // Its reading failing too (the gateway down) leaves the key as it is: nothing is known yet.
    const made = await deps.gateway.customerCreatedUnder(accountId, key);
    if (made) {
      deps.log.info('card.customer_found', { account_id: accountId, customer_id: made, after: 'server_error' });
      return made;
    }
    await renewCustomerKey(deps.pool, accountId, key);
    deps.log.warn('card.customer_key_renewed', { account_id: accountId, request_id: err.requestId ?? 'none', reason: 'server_error' });
    throw err;
  }
}
