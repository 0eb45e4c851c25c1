// Every state change goes through `mutate`: one transaction for the change,
// its events and the stored answer of its Idempotency-Key, so a replay gets
// exactly the first answer and a crash never stores half an effect.
//
// Semantics (Stripe's): keys are scoped to the API key and kept 24 h; a replay
// (same method, path and params) answers the stored status and body with
// `Idempotent-Replayed: true`; other params under the same key are a 400
// idempotency_error; a key whose request is still executing is a 409.
// Only requests whose endpoint ran are stored: auth and param validation
// failures happen before `mutate` and leave no record. A 500 of an endpoint that
// began executing is stored too (Stripe: "Retries with the same key return the
// saved response, including 500 errors"): its effects roll back, its answer is
// kept in a transaction of its own, and a retry under the key replays that 500.
import { createHmac } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxDeps } from '../deps.ts';
import { callerOf } from './auth.ts';
import { ApiError, invalidRequest, serverErrorBody } from './errors.ts';
import { withTransaction } from '@vault/db';
import { inTransaction, type Queryable, type Tx } from '../store/transaction.ts';

const IDEMPOTENCY_TTL_HOURS = 24;

/** Keys whose request is executing in this process, from arrival until the answer is sent (latency included). */
const inFlight = new Set<string>();

interface Stored {
  method: string;
  path: string;
  params_hash: string;
  status: number;
  /** The answer's text as first sent; null in rows stored before migration 005. */
  body_text: string | null;
  /** The answer as jsonb (key order lost): only rows from before migration 005. */
  body: unknown;
  request_id: string;
}

/** JSON with object keys sorted: the same params always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The params' HMAC under the database's fingerprint key: a card number in the
 * params (POST /v1/payment_methods) must not be recoverable from the stored
 * record by trying every number against a plain hash.
 */
export function paramsHash(key: Buffer, params: unknown): string {
  return createHmac('sha256', key)
    .update(canonicalJson(params ?? {}))
    .digest('hex');
}

function keyInUse(): ApiError {
  return invalidRequest(
    'There is currently another in-progress request using this idempotent key (probably means you clicked twice or your client retried too soon). Please try again later.',
    { code: 'idempotency_key_in_use' },
    409,
  );
}

function idempotencyKeyOf(req: FastifyRequest): string | null {
  const raw = req.headers['idempotency-key'];
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (key === undefined || key === '') return null;
  if (key.length > 255) throw invalidRequest('Idempotency-Key must be at most 255 characters long.', { param: 'Idempotency-Key' });
  return key;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  text: string;
  /** The first request's id when this is a replay. */
  replayOf: string | null;
}

interface KeyRecord {
  keyHash: string;
  key: string;
  method: string;
  path: string;
  hash: string | null;
  requestId: string;
}

/**
 * Stores an answer under its key. Replaces only an expired record: the caller found none
 * alive under the key's advisory lock, and a 500 stored afterwards must not replace the
 * answer of a request another process executed in between.
 */
async function storeAnswer(q: Queryable, r: KeyRecord, status: number, text: string): Promise<void> {
  await q.query(
    `insert into gateway_sandbox.idempotency_keys (api_key_hash, key, method, path, params_hash, status, body_text, request_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     on conflict (api_key_hash, key) do update
       set method = excluded.method, path = excluded.path, params_hash = excluded.params_hash, status = excluded.status,
           body = null, body_text = excluded.body_text, request_id = excluded.request_id, created_at = now()
       where gateway_sandbox.idempotency_keys.created_at <= now() - make_interval(hours => $9)`,
    [r.keyHash, r.key, r.method, r.path, r.hash, status, text, r.requestId, IDEMPOTENCY_TTL_HOURS],
  );
}

/**
 * After an endpoint failed with a 500 (its transaction rolled back): its answer stored under
 * the key in a transaction of its own, as Stripe saves a 500. Null when it cannot be stored
 * (PostgreSQL unreachable): then nothing is kept and a retry executes afresh.
 */
async function storeServerError(deps: SandboxDeps, r: KeyRecord, scope: string): Promise<Answer | null> {
  const text = JSON.stringify(serverErrorBody(r.requestId));
  try {
    await withTransaction(
      deps.pool,
      async (client) => {
        const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_xact_lock(hashtextextended($1, 0)) as locked', [
          scope,
        ]);
        // Another process took the key meanwhile: its request decides the key's answer.
        if (rows[0]!.locked) await storeAnswer(client, r, 500, text);
      },
      { log: deps.log, name: 'sandbox.store_500' },
    );
  } catch (err) {
    deps.log.error('gateway.idempotency_store_failed', err, { path: r.path, request_id: r.requestId });
    return null;
  }
  return { status: 500, text, replayOf: null };
}

/**
 * Runs `work` in one transaction and answers with its result (200) or the
 * ApiError it throws (its status; whatever it wrote before throwing commits,
 * as a declined charge must). Any other exception rolls back: a 500, stored
 * under the key when the endpoint had begun (storeServerError).
 */
export async function mutate(
  deps: SandboxDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  work: (tx: Tx) => Promise<unknown>,
): Promise<FastifyReply> {
  const caller = callerOf(req);
  const key = idempotencyKeyOf(req);
  const scope = key === null ? null : `${caller.keyHash}:${key}`;
  if (scope !== null && inFlight.has(scope)) throw keyInUse();
  if (scope !== null) inFlight.add(scope);
  try {
    const path = req.url.split('?')[0]!;
    // Only a request with a key is compared with (or stored as) a first answer.
    const hash = key === null ? null : paramsHash(await deps.fingerprintKey(), req.body);
    const record: KeyRecord | null =
      key === null ? null : { keyHash: caller.keyHash, key, method: req.method, path, hash, requestId: req.stripeRequestId };
    /** Set once the endpoint begins: from then on Stripe saves whatever it answers, a 500 included. */
    let began = false;
    let answer: Answer;
    try {
      answer = await inTransaction(deps, { requestId: req.stripeRequestId, idempotencyKey: key }, async (tx): Promise<Answer> => {
        if (scope !== null) {
          // Another process (or a request that slipped past inFlight) holds the key.
          const { rows } = await tx.q.query<{ locked: boolean }>('select pg_try_advisory_xact_lock(hashtextextended($1, 0)) as locked', [
            scope,
          ]);
          if (!rows[0]!.locked) throw keyInUse();
          const stored = await tx.q.query<Stored>(
            `select method, path, params_hash, status, body_text, body, request_id from gateway_sandbox.idempotency_keys
              where api_key_hash = $1 and key = $2 and created_at > now() - make_interval(hours => $3)`,
            [caller.keyHash, key, IDEMPOTENCY_TTL_HOURS],
          );
          const first = stored.rows[0];
          if (first) {
            if (first.method !== req.method || first.path !== path || first.params_hash !== hash) {
              throw new ApiError(400, {
                type: 'idempotency_error',
                message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
              });
            }
            return { status: first.status, text: first.body_text ?? JSON.stringify(first.body), replayOf: first.request_id };
          }
        }
        began = true;
        let status = 200;
        let body: unknown;
        try {
          body = await work(tx);
          deps.faultAfterWork?.(path);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          status = err.status;
          body = err.toJSON();
        }
        // Serialized once here: the first answer and every replay send these very bytes.
        const text = JSON.stringify(body);
        if (record !== null) await storeAnswer(tx.q, record, status, text);
        return { status, text, replayOf: null };
      });
    } catch (err) {
      // Refusals before the endpoint (409, idempotency_error) and failures with no key are answered as thrown.
      if (record === null || scope === null || !began || err instanceof ApiError) throw err;
      // A conflict with concurrent requests (its retries spent) is not the endpoint's answer: Stripe saves none.
      if (isConcurrencyConflict(err)) throw err;
      deps.log.error('http.error', err, { path: req.routeOptions.url ?? 'unknown', request_id: req.stripeRequestId, stored: true });
      const stored = await storeServerError(deps, record, scope);
      if (stored === null) throw err;
      answer = stored;
    }
    if (deps.latencyMs > 0) await sleep(deps.latencyMs);
    if (key !== null) reply.header('Idempotency-Key', key);
    if (answer.replayOf !== null) reply.header('Idempotent-Replayed', 'true').header('Original-Request', answer.replayOf);
    // A stored 500 replays as it is: retrying it under the same key changes nothing (the SDK then stops).
    if (answer.status >= 500) reply.header('Stripe-Should-Retry', 'false');
    // A string is sent as is (an object would be serialized anew, in its own key order).
    return reply.code(answer.status).type('application/json; charset=utf-8').send(answer.text);
  } finally {
    if (scope !== null) inFlight.delete(scope);
  }
}

/** Deadlock, serialization failure or lock not available (SQLSTATE): a conflict, not an outcome. */
const CONFLICT_STATES = new Set(['40P01', '40001', '55P03']);
const isConcurrencyConflict = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && CONFLICT_STATES.has(String((err as { code?: unknown }).code));

/** Drops the records older than the TTL (the delivery loop calls it now and then); returns how many. */
export async function deleteExpiredKeys(q: Queryable): Promise<number> {
  const { rowCount } = await q.query('delete from gateway_sandbox.idempotency_keys where created_at < now() - make_interval(hours => $1)', [
    IDEMPOTENCY_TTL_HOURS,
  ]);
  return rowCount ?? 0;
}
