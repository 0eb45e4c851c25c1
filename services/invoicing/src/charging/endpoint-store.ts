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
