// invoicing's webhook endpoints at the gateway (`invoicing.webhook_endpoints`):
// the registration's idempotency key, the endpoint and its signing secret.
import type pg from 'pg';

export interface StoredEndpoint {
  url: string;
  idempotencyKey: string;
  endpointId: string | null;
  secret: string | null;
}

/**
 * The endpoint row for `url`, written with `key` if there is none: the key of its registration. One
 * statement: an insert then a select lost the row to another process's forgetEndpoint between them.
 */
export async function endpointFor(pool: pg.Pool, url: string, key: string): Promise<StoredEndpoint> {
  const { rows } = await pool.query<{ url: string; idempotency_key: string; endpoint_id: string | null; secret: string | null }>(
    `insert into invoicing.webhook_endpoints as w (url, idempotency_key) values ($1, $2)
     on conflict (url) do update set url = w.url
     returning w.url, w.idempotency_key, w.endpoint_id, w.secret`,
    [url, key],
  );
  const r = rows[0]!;
  return { url: r.url, idempotencyKey: r.idempotency_key, endpointId: r.endpoint_id, secret: r.secret };
}

/**
 * A new registration key for `url` in place of `used`, after a 500 under it (replayed for a day), stored before
 * it is sent. Only while unregistered under `used`: another process's renewal or registration stands.
 */
export async function renewEndpointKey(pool: pg.Pool, url: string, used: string, key: string): Promise<void> {
  await pool.query(
    'update invoicing.webhook_endpoints set idempotency_key = $3 where url = $1 and idempotency_key = $2 and endpoint_id is null',
    [url, used, key],
  );
}

export async function saveEndpoint(pool: pg.Pool, url: string, endpoint: { id: string; secret: string }): Promise<void> {
  await pool.query('update invoicing.webhook_endpoints set endpoint_id = $2, secret = $3, registered_at = now() where url = $1', [
    url,
    endpoint.id,
    endpoint.secret,
  ]);
}

/**
 * Forgets the endpoint `endpointId` the gateway no longer knows, so the next registration makes a new
 * one. Only that one: another process may have registered its successor meanwhile, and deleting that
 * row would lose its secret while the gateway keeps delivering to it.
 */
export async function forgetEndpoint(pool: pg.Pool, url: string, endpointId: string): Promise<void> {
  await pool.query('delete from invoicing.webhook_endpoints where url = $1 and endpoint_id = $2', [url, endpointId]);
}

/** The signing secrets of the registered endpoints (any url: deliveries may come through another address). */
export async function endpointSecrets(db: pg.Pool | pg.PoolClient): Promise<string[]> {
  const { rows } = await db.query<{ secret: string }>(
    'select secret from invoicing.webhook_endpoints where secret is not null order by registered_at desc',
  );
  return rows.map((r) => r.secret);
}

/** How long the webhook route trusts the secrets it read, and how soon a mismatch may read them again. */
export const SECRETS_FRESH_MS = 5_000;
export const SECRETS_REREAD_MS = 1_000;

/**
 * The endpoints' secrets as the webhook route needs them: read at most every SECRETS_FRESH_MS, and
 * again on a signature that none verifies only when the last read is SECRETS_REREAD_MS old (an endpoint
 * registered again by another process meanwhile). A flood of unsigned POSTs costs about one query a
 * second, not one each. None registered yet is never kept: the first delivery after it is read at once.
 */
export function endpointSecretsCache(db: pg.Pool, now: () => number = Date.now) {
  let kept: { secrets: string[]; at: number } | undefined;
  const read = async () => {
    const secrets = await endpointSecrets(db);
    kept = secrets.length > 0 ? { secrets, at: now() } : undefined;
    return secrets;
  };
  return {
    current: async (): Promise<string[]> => (kept && now() - kept.at < SECRETS_FRESH_MS ? kept.secrets : read()),
    /** After a mismatch: the secrets read again if that may find another, else undefined. */
    afterMismatch: async (): Promise<string[] | undefined> => {
      if (kept && now() - kept.at < SECRETS_REREAD_MS) return undefined;
      const before = kept?.secrets.join('\n');
      const secrets = await read();
      return secrets.join('\n') === before ? undefined : secrets;
    },
  };
}
