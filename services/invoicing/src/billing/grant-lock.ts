// A grant is dated by billing's clock and committed a moment later. Without a
// lock, credits.csv's check (credits-final.ts) could pass between the two: a
// grant dated 23:59:59.999 and committed after 00:00 was missing from the
// month's "final" file, and the file taken again later had it. Grants take
// GRANT_LOCK shared (they never wait for each other nor for a finalize run);
// the check takes it exclusive for the instant its snapshot is taken.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import type { Logger } from '@vault/runtime';

export const GRANT_LOCK = 0x76_67_72_74; // "vgrt"

/**
 * Runs `fn` in a transaction holding GRANT_LOCK shared until it commits. `fn`
 * reads billing's clock for the grant's date after the lock is taken: a check
 * that held the lock before saw a clock past the month's end, so the grant is
 * dated after it too; one that comes later waits for this commit.
 */
export function withGrantLock<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, log?: Logger): Promise<T> {
  return withTransaction(
    pool,
    async (client) => {
      await client.query('select pg_advisory_xact_lock_shared($1)', [GRANT_LOCK]);
      return fn(client);
    },
    { log, name: 'credit_grant' },
  );
}
