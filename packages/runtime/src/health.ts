import { describeConnectError, within } from './boot-errors.ts';

/**
 * Why the app cannot do its job now, or undefined. GET /health answers 503 with
 * `reason` alone (it needs no token: a host name or a server's message is not
 * for anyone who asks); `detail` goes to the log.
 */
export interface Unhealthy {
  reason: string;
  detail: string;
}
export type HealthCheck = () => Unhealthy | undefined | Promise<Unhealthy | undefined>;

/**
 * The database answers `select 1` through the app's own pool within
 * `timeoutMs`. A query still pending from an earlier check is awaited again
 * rather than joined by another, so a hanging server never fills the pool.
 */
export function databaseCheck(pool: { query(text: string): Promise<unknown> }, timeoutMs = 2_000): HealthCheck {
  let pending: Promise<unknown> | undefined;
  return async () => {
    if (!pending) {
      const query = pool.query('select 1').finally(() => {
        if (pending === query) pending = undefined;
      });
      query.catch(() => {});
      pending = query;
    }
    try {
      await within(pending, timeoutMs);
      return undefined;
    } catch (err) {
      return { reason: 'database unavailable', detail: describeConnectError(err) };
    }
  };
}

/** The first check's problem, in order, or undefined when all pass. */
export async function firstProblem(checks: readonly HealthCheck[]): Promise<Unhealthy | undefined> {
  for (const check of checks) {
    const reason = await check();
    if (reason) return reason;
  }
  return undefined;
}
