import { describeConnectError, within } from './boot-errors.ts';

/** Why the app cannot do its job now (GET /health answers 503 with it), or undefined. */
export type HealthCheck = () => string | undefined | Promise<string | undefined>;

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
      return `database: ${describeConnectError(err)}`;
    }
  };
}

/** The first check's reason, in order, or undefined when all pass. */
export async function firstProblem(checks: readonly HealthCheck[]): Promise<string | undefined> {
  for (const check of checks) {
    const reason = await check();
    if (reason) return reason;
  }
  return undefined;
}
