// A request's unit of work: one PostgreSQL transaction holding the change, the
// events it causes (with their outbox rows) and, by api/idempotency.ts, the stored
// answer. Either all of it commits or none.
import type pg from 'pg';
import { withTransaction, type TransactionLog } from '@vault/db';
import { API_VERSION } from '../api/api-version.ts';
import { newId, unixNow } from '../api/ids.ts';

/** A pool or a transaction's client: reads work on either. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface Tx {
  q: pg.PoolClient;
  /** Unix seconds when the request started: every `created` of the request. */
  now: number;
  requestId: string;
  idempotencyKey: string | null;
  /** Events written so far (the delivery loop is woken after commit when > 0). */
  emitted: number;
  /** Records an event with the object's current state, and queues it for every subscribed endpoint. */
  emit(type: string, object: object, previousAttributes?: Record<string, unknown>): Promise<string>;
}

function newTx(q: pg.PoolClient, requestId: string, idempotencyKey: string | null): Tx {
  const tx: Tx = {
    q,
    now: unixNow(),
    requestId,
    idempotencyKey,
    emitted: 0,
    async emit(type, object, previousAttributes) {
      const id = newId('evt');
      const data = previousAttributes ? { object, previous_attributes: previousAttributes } : { object };
      await q.query(
        `insert into gateway_sandbox.events (id, created, type, api_version, data, request_id, idempotency_key)
         values ($1, $2, $3, $4, $5, $6, $7)`,
        [id, tx.now, type, API_VERSION, JSON.stringify(data), requestId, idempotencyKey],
      );
      // The outbox: endpoints subscribed now get it, in this same transaction.
      // KEY SHARE skips an endpoint deleted meanwhile instead of failing the request on its foreign key.
      await q.query(
        `insert into gateway_sandbox.deliveries (event_id, endpoint_id)
         select $1, id from gateway_sandbox.webhook_endpoints
          where status = 'enabled' and (enabled_events ? '*' or enabled_events ? $2)
            for key share`,
        [id, type],
      );
      tx.emitted++;
      return id;
    },
  };
  return tx;
}

/** One request's transaction; `deps.onEvents` runs after a commit that wrote events (wakes delivery). */
export async function inTransaction<T>(
  deps: { pool: pg.Pool; log: TransactionLog; onEvents(): void },
  request: { requestId: string; idempotencyKey: string | null },
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  let tx: Tx | undefined;
  // A deadlock retried runs fn again on a fresh Tx: only the committed try's events count.
  const result = await withTransaction(deps.pool, (client) => fn((tx = newTx(client, request.requestId, request.idempotencyKey))), {
    log: deps.log,
    name: 'sandbox.request',
  });
  if (tx!.emitted > 0) deps.onEvents();
  return result;
}
