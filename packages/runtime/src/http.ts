import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { outcomeUnknown, sendBusy } from './busy-answer.ts';
import { databaseLimitOf, poolTimeout, sessionEnded, tooManyConnections } from './database-limit.ts';
import type { HealthCheck } from './health.ts';
import type { Logger } from './log.ts';
import { fieldsError } from './query.ts';

export interface HttpAppOptions {
  /** GET /health: 200 `{status: "ok"}` when it returns nothing, else 503 with its reason (its detail logged). */
  health?: HealthCheck;
  /** Whose X-Forwarded-Proto/For to believe (TRUST_PROXY); default: nobody's. */
  trustProxy?: boolean | string[];
  /** HTTP_REQUEST_TIMEOUT_MS: a request's headers and body must arrive within it (else 408), and a connection may idle no longer. */
  requestTimeoutMs?: number;
  /** HTTP_MAX_CONNECTIONS: connections held at once; more are closed as they come. */
  maxConnections?: number;
  /** DATABASE_STATEMENT_TIMEOUT_MS, named in the log line of a request whose statement it stopped. */
  statementTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_CONNECTIONS = 1_000;
/** An idle keep-alive connection is closed after this (never later than the request timeout). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** The headers of an answer the router makes itself: nothing in it may run, be framed or be kept. */
const FRAMEWORK_ERROR_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
};

/**
 * The dotted path of the first key or string holding U+0000 in a parsed value, or
 * undefined. Walked with a list, not recursion: a deeply nested body cannot overflow.
 */
function nulAt(value: unknown): string | undefined {
  const todo: [unknown, string][] = [[value, '']];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    const [at, path] = next;
    if (typeof at === 'string') {
      if (at.includes('\u0000')) return path || '(body)';
    } else if (at !== null && typeof at === 'object' && !Buffer.isBuffer(at)) {
      const entries = Object.entries(at);
      const inside = (key: string) => (path === '' ? key : `${path}.${key}`);
      const badKey = entries.find(([key]) => key.includes('\u0000'));
      if (badKey) return inside(badKey[0]);
      // Pushed last to first, so the first field in order is the first looked at.
      for (let i = entries.length - 1; i >= 0; i--) todo.push([entries[i]![1], inside(entries[i]![0])]);
    }
  }
  return undefined;
}

/** A path or query parameter holding U+0000, by its name (a repeated one's values together). */
function nulParameter(values: unknown): string | undefined {
  if (values === null || typeof values !== 'object') return undefined;
  for (const [name, value] of Object.entries(values)) {
    if (name.includes('\u0000') || nulAt(value) !== undefined) return name;
  }
  return undefined;
}

/** The longest path parameter the router takes, decoded: room beyond a 128-character id. */
export const MAX_PARAM_LENGTH = 3 * 128;

/**
 * A request's path for the logs: its route's pattern, never the address as sent. An
 * address no route matches may carry a secret in its path (a sign-in link whose `?` a
 * mail client escaped: `/signin%3Flink=vl_…`), so it is logged as `(no route)`.
 */
function loggedPath(req: FastifyRequest): string {
  return req.routeOptions.url ?? '(no route)';
}

/**
 * A fastify instance with our conventions: one logfmt line per request with
 * its duration, one error handler that hides 5xx details from clients, and
 * GET /health.
 */
export function createHttpApp(log: Logger, options: HttpAppOptions = {}): FastifyInstance {
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    logger: false,
    // TRUST_PROXY=true believes whichever peer is in front, one hop: the client is the address
    // that proxy appended last to X-Forwarded-For, never the left-most, which the client writes
    // itself (the failed-token limit counts by it).
    // (A function: fastify refuses a bare hop count, which cannot tell the peer apart.)
    trustProxy: options.trustProxy === true ? (_address: string, hop: number) => hop === 0 : (options.trustProxy ?? false),
    // The router measures a parameter decoded: an id is up to 128 characters (events-v1), and
    // its default of 100 refused a long account id's every route with 414. Each route's schema
    // bounds its own parameters.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // What the router refuses before any route or hook (an address that is not valid
    // percent-encoding, a parameter too long): our shape, the path not echoed, and the
    // headers every answer carries, as no scope's hooks run for it.
    frameworkErrors: (err, _req, reply: FastifyReply) => {
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : err.code === 'FST_ERR_BAD_URL' ? 400 : 500;
      const error = status === 500 ? 'internal error' : status === 414 ? 'the address is too long' : 'the address is not valid';
      void reply.code(status).headers(FRAMEWORK_ERROR_HEADERS).send({ error });
    },
    // Every door has its timeouts: a body trickled a byte at a time, or headers
    // that never end, get 408 and the connection closed; so does a silent one.
    requestTimeout,
    connectionTimeout: requestTimeout,
    keepAliveTimeout: Math.min(KEEP_ALIVE_TIMEOUT_MS, requestTimeout),
    http: {
      requestTimeout,
      headersTimeout: requestTimeout,
      // How often node looks for requests past their timeout (30 s by default, so a 30 s timeout could take a minute).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeout / 4))),
    },
  });
  app.server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  // PostgreSQL's text cannot hold U+0000: a value with one (in the path, the query or a
  // parsed body) is the caller's mistake, named here, not a 500 from the first query that
  // meets it. Raw bodies (Buffers: the intake's events, webhooks) are their routes' to judge.
  app.addHook('preValidation', async (req) => {
    const found: [string, () => string | undefined][] = [
      ['path', () => nulParameter(req.params)],
      ['query', () => nulParameter(req.query)],
      ['body', () => nulAt(req.body)],
    ];
    for (const [where, find] of found) {
      const field = find();
      if (field === undefined) continue;
      // The routes' own 400 shape: `invalid query: period: …` with the fields named.
      const body = fieldsError(where, [{ field, message: 'must not contain U+0000' }]);
      throw Object.assign(new Error(body.error), { statusCode: 400, fields: body.fields });
    }
  });
  // The idle timeout (connectionTimeout) closes a connection that says nothing; while a
  // request is being answered it is off, or a handler slower than it (a busy pool's 10 s
  // wait, with a shorter HTTP_REQUEST_TIMEOUT_MS) was cut off with no answer at all. The
  // request itself stays bounded by requestTimeout (headers and body), and the answer's
  // writing by the idle timeout again, from the moment it is sent.
  // (An injected request's socket is a stand-in without timeouts.)
  const idleTimeout = (req: FastifyRequest, ms: number) => {
    const socket = req.raw.socket as { setTimeout?: (ms: number) => unknown } | undefined;
    if (typeof socket?.setTimeout === 'function') socket.setTimeout(ms);
  };
  app.addHook('onRequest', async (req) => idleTimeout(req, 0));
  app.addHook('onSend', async (req) => idleTimeout(req, requestTimeout));
  app.addHook('onResponse', async (req, reply) => {
    log.info('http.request', {
      method: req.method,
      path: loggedPath(req),
      status: reply.statusCode,
      'measure#http.duration': `${reply.elapsedTime.toFixed(1)}ms`,
    });
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err.statusCode && err.statusCode < 600 ? err.statusCode : 500;
    // A stream that failed before its first byte (a CSV export) left its type and file name: the error is JSON.
    reply.removeHeader('content-disposition');
    reply.type('application/json; charset=utf-8');
    const limit = status === 500 ? databaseLimitOf(err) : undefined;
    if (limit) {
      // A statement stopped at DATABASE_STATEMENT_TIMEOUT_MS (a lock held by finalize or archive,
      // a slow query), or a transaction left idle past its limit: the caller may come back shortly.
      // A browser opening a page gets a page (busy-answer.ts), an API caller JSON.
      log.warn('http.database_timeout', {
        path: loggedPath(req),
        reason: limit,
        limit_ms: options.statementTimeoutMs,
        'count#http.database_timeout': 1,
      });
      return sendBusy(req, reply);
    }
    const full = status === 500 && tooManyConnections(err);
    const ended = status === 500 && sessionEnded(err);
    if (full || ended || (status === 500 && poolTimeout(err))) {
      // Every pooled connection busy for the pool's whole wait, PostgreSQL at max_connections
      // (53300), or the server closing the request's session: say so, and when to come back,
      // never a 500 with a stack.
      log.warn('http.database_busy', {
        path: loggedPath(req),
        ...(full ? { reason: 'too_many_connections' } : ended ? { reason: 'session_ended' } : {}),
        'count#http.database_busy': 1,
      });
      // A session ended mid-statement may have ended during its commit: never "nothing was changed".
      return sendBusy(req, reply, ended && outcomeUnknown(err) ? 'unknown' : 'unchanged');
    }
    if (status >= 500) {
      log.error('http.error', err);
      return reply.code(status).send({ error: 'internal error' });
    }
    const fields = (err as { fields?: unknown }).fields;
    return reply.code(status).send(fields === undefined ? { error: err.message } : { error: err.message, fields });
  });
  // The detail is logged when the answer changes, not at every probe.
  let logged: string | undefined;
  app.get('/health', async (_req, reply) => {
    const problem = await options.health?.();
    const said = problem === undefined ? undefined : `${problem.reason}\n${problem.detail}`;
    if (said !== logged) {
      if (problem === undefined) log.info('health.ok');
      else log.warn('health.unavailable', { reason: problem.reason, detail: problem.detail, 'count#health.unavailable': 1 });
      logged = said;
    }
    if (problem === undefined) return { status: 'ok' };
    return reply.code(503).header('cache-control', 'no-store').send({ status: 'unavailable', reason: problem.reason });
  });
  return app;
}
