// The durable side of the gateway lookups limit (`cc_forms.gateway_lookups`):
// every request of a signed-in account that would call the gateway with the
// secret key (a PaymentIntent read, a setup intent of its own checked) takes a
// slot first. In PostgreSQL rather than in each process's memory: the gateway's
// rate limit is one for the whole platform, so the budget must be one per account
// however many cc-forms processes run, and survive their restarts; a short
// transaction is cheap beside the gateway round trip it guards.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import type { Logger } from '@vault/runtime';
import {
  decideAttempt,
  GATEWAY_LOOKUPS_PER_MINUTE,
  LOOKUP_WINDOW_SECONDS,
  lookupLimitMessage,
  type AttemptDecision,
} from '../domain/rate-limit.ts';

/**
 * Counts one gateway lookup for the account if the limit allows it: as
 * takeCardAttempt, under a per-account advisory lock (concurrent requests
 * cannot both take the last slot), with the database's clock.
 */
export async function takeGatewayLookup(pool: pg.Pool, accountId: string, limit: number): Promise<AttemptDecision> {
  return withTransaction(pool, async (client) => {
    await client.query("select pg_advisory_xact_lock(hashtext('cc_forms.gateway_lookups'), hashtext($1))", [accountId]);
    await client.query(`delete from cc_forms.gateway_lookups where account_id = $1 and at <= now() - make_interval(secs => $2)`, [
      accountId,
      LOOKUP_WINDOW_SECONDS,
    ]);
    const { rows } = await client.query<{ now: Date; recent: Date[] }>(
      'select now() as now, array(select at from cc_forms.gateway_lookups where account_id = $1 order by at) as recent',
      [accountId],
    );
    const decision = decideAttempt(rows[0]!.recent, limit, rows[0]!.now, LOOKUP_WINDOW_SECONDS);
    if (decision.allowed) await client.query('insert into cc_forms.gateway_lookups (account_id) values ($1)', [accountId]);
    return decision;
  });
}

export interface LookupDeps {
  pool: pg.Pool;
  log: Logger;
  /** Unset: GATEWAY_LOOKUPS_PER_MINUTE (domain/rate-limit.ts): never unlimited by omission. */
  lookupsPerMinute?: number | undefined;
}

export interface LookupRefused {
  kind: 'rate_limited';
  retryAfterSeconds: number;
  message: string;
}

/**
 * Takes a lookup slot before a gateway call about `id`; undefined when the call
 * may go, else the refusal (429 with Retry-After), logged and counted.
 */
export async function gatewayLookupRefused(
  deps: LookupDeps,
  accountId: string,
  lookup: { setup_intent_id: string } | { payment_intent_id: string },
): Promise<LookupRefused | undefined> {
  const decision = await takeGatewayLookup(deps.pool, accountId, deps.lookupsPerMinute ?? GATEWAY_LOOKUPS_PER_MINUTE);
  if (decision.allowed) return undefined;
  deps.log.warn('gateway.lookups_limited', {
    account_id: accountId,
    ...lookup,
    retry_after_s: decision.retryAfterSeconds,
    'count#gateway.lookups_limited': 1,
  });
  const outcome = 'setup_intent_id' in lookup ? 'Nothing was saved.' : 'Nothing was charged.';
  return {
    kind: 'rate_limited',
    retryAfterSeconds: decision.retryAfterSeconds,
    message: lookupLimitMessage(decision.retryAfterSeconds, outcome),
  };
}
