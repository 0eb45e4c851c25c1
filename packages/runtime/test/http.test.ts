// createHttpApp's limits (issue 15): the server's timeouts and connection cap
// as configured, and a pool that waited in vain is a 503 with Retry-After,
// never a hang. The timeouts against real sockets and the apps as processes
// are in test/http-limits.test.ts.
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { after, before, describe, test } from 'node:test';
import { openPool } from '@vault/db';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { createHttpApp, DEFAULT_MAX_CONNECTIONS, MAX_PARAM_LENGTH, DEFAULT_REQUEST_TIMEOUT_MS, memoryLogger } from '../src/index.ts';

/** The longest any one step of a test here may take before it fails naming what it waited for. */
const WAIT_MS = 15_000;

/**
 * Opens a connection that sends nothing; resolves when the server has closed it, with what
 * it said first. What arrives is read: an unread answer (node's 408) holds back the socket's
 * 'end', and with it 'close', for ever.
 */
function silentConnection(port: number): Promise<{ received: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let received = '';
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => {}); // a reset is a close too
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the silent connection was still open after ${WAIT_MS} ms; received: ${JSON.stringify(received)}`));
    }, WAIT_MS);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, ms: performance.now() - started });
    });
  });
}

/** app.close(), bounded: past WAIT_MS the connections still open are cut and the test fails naming the wait. */
async function closeWithin(app: FastifyInstance): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      app.server.closeAllConnections();
      reject(new Error(`app.close() still waited for its connections after ${WAIT_MS} ms`));
    }, WAIT_MS);
  });
  try {
    await Promise.race([app.close(), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('createHttpApp: timeouts, a connection cap, a busy database', () => {
  let db: TestDatabase;
  before(async () => (db = await freshDatabase('http_app')));
  after(() => db?.drop());

  test('the server gets the request timeout (headers and body), the idle timeout and the cap; 30 s and 1000 by default', () => {
    const given = createHttpApp(memoryLogger(), { requestTimeoutMs: 2_000, maxConnections: 7 }).server;
    assert.deepEqual(
      [given.requestTimeout, given.headersTimeout, given.timeout, given.keepAliveTimeout, given.maxConnections],
      [2_000, 2_000, 2_000, 2_000, 7],
    );
    const defaults = createHttpApp(memoryLogger()).server;
    assert.deepEqual(
      [defaults.requestTimeout, defaults.headersTimeout, defaults.timeout, defaults.keepAliveTimeout, defaults.maxConnections],
      [DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, 5_000, DEFAULT_MAX_CONNECTIONS],
    );
    assert.deepEqual([DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS], [30_000, 1_000]);
  });

  test('a handler slower than the idle timeout is answered, not cut off; a connection that says nothing is still closed within it', async () => {
    const app = createHttpApp(memoryLogger(), { requestTimeoutMs: 1_000 });
    app.get('/slow', async () => {
      await new Promise((r) => setTimeout(r, 1_800));
      return { done: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      // Every wait is bounded: a hang here once held a CI run for 30 minutes.
      const res = await fetch(`http://127.0.0.1:${port}/slow`, { signal: AbortSignal.timeout(WAIT_MS) });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { done: true });
      const silent = await silentConnection(port);
      // Closed either by the idle timeout (nothing said) or by node's headers timeout (a 408):
      // which fires first is a race between two timers due at the same moment.
      assert.match(silent.received, /^(HTTP\/1\.1 408 [\s\S]*)?$/, 'nothing, or a 408');
      assert.ok(silent.ms < 3_000, `the silent connection was closed after ${silent.ms.toFixed(0)} ms`);
    } finally {
      await closeWithin(app);
    }
  });

  test('a request whose query waits out the pool’s connection timeout is 503 with Retry-After, then served once a connection is free', async () => {
    const pool = openPool(db.url, { max: 1, connectionTimeoutMs: 200 });
    const log = memoryLogger();
    const app = createHttpApp(log);
    app.get('/one', async () => (await pool.query<{ one: number }>('select 1 as one')).rows[0]);
    const held = await pool.connect();
    try {
      const started = performance.now();
      const busy = await app.inject({ method: 'GET', url: '/one' });
      assert.equal(busy.statusCode, 503);
      assert.equal(busy.headers['retry-after'], '5');
      assert.deepEqual(busy.json(), { error: 'the database is busy: try again in a few seconds' });
      assert.ok(performance.now() - started < 2_000);
      assert.ok(log.lines.some((l) => /at=warn event=http\.database_busy path=\/one/.test(l)));
    } finally {
      held.release();
    }
    assert.deepEqual((await app.inject({ method: 'GET', url: '/one' })).json(), { one: 1 });
    await app.close();
    await pool.end();
  });
});

describe('createHttpApp: U+0000 in a path, query or body value', () => {
  test('is a 400 naming the parameter or body field, before any handler (PostgreSQL text cannot hold it); in a child scope too; a raw body is left to its route', async () => {
    const app = createHttpApp(memoryLogger());
    let handled = 0;
    app.get('/v1/invoices/:id', async (req) => {
      handled++;
      return { id: (req.params as { id: string }).id };
    });
    await app.register(async (scope) => {
      scope.get('/scoped', async () => ({ handled: ++handled }));
      scope.post('/scoped', async () => ({ handled: ++handled }));
      scope.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, b, done) => done(null, b));
      scope.post('/raw', async (req) => ({ bytes: (req.body as Buffer).length }));
    });
    try {
      const path = await app.inject({ method: 'GET', url: '/v1/invoices/%00' });
      assert.equal(path.statusCode, 400);
      const named = (where: string, field: string) => ({
        error: `invalid ${where}: ${field}: must not contain U+0000`,
        fields: [{ field, message: 'must not contain U+0000' }],
      });
      assert.deepEqual(path.json(), named('path', 'id'));
      // A query parameter of the same name does not hide the path's.
      assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/invoices/a%00b?id=x' })).json(), named('path', 'id'));
      const query = await app.inject({ method: 'GET', url: '/scoped?after=1%00&after=2' });
      assert.equal(query.statusCode, 400);
      assert.deepEqual(query.json(), named('query', 'after'));
      const body = await app.inject({ method: 'POST', url: '/scoped', payload: { grant: { reason: 'x\u0000y' }, amount: '1.00' } });
      assert.equal(body.statusCode, 400);
      assert.deepEqual(body.json(), named('body', 'grant.reason'));
      const key = await app.inject({ method: 'POST', url: '/scoped', payload: { meta: { 'k\u0000': 1 } } });
      assert.deepEqual(key.json(), named('body', 'meta.k\u0000'));
      let deep: unknown = 'x\u0000';
      for (let i = 0; i < 500; i++) deep = [deep];
      const nested = await app.inject({
        method: 'POST',
        url: '/scoped',
        payload: JSON.stringify({ deep }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(nested.statusCode, 400, 'found however deep');
      const raw = await app.inject({
        method: 'POST',
        url: '/raw',
        headers: { 'content-type': 'application/octet-stream' },
        payload: Buffer.from('a\u0000b'),
      });
      assert.deepEqual(raw.json(), { bytes: 3 }, 'a raw body is its route’s to judge');
      assert.equal(handled, 0);
      assert.equal((await app.inject({ method: 'GET', url: '/v1/invoices/inv-1' })).json().id, 'inv-1');
    } finally {
      await app.close();
    }
  });
});

describe('createHttpApp: TRUST_PROXY=true believes the peer in front, one hop', () => {
  test('the client is the address the proxy appended last, not the left-most a client may write; its X-Forwarded-Proto counts', async () => {
    const app = createHttpApp(memoryLogger(), { trustProxy: true });
    app.get('/who', async (req) => ({ ip: req.ip, protocol: req.protocol }));
    try {
      const res = await app.inject({
        method: 'GET',
        url: '/who',
        headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.7', 'x-forwarded-proto': 'https' },
      });
      assert.deepEqual(res.json(), { ip: '203.0.113.7', protocol: 'https' });
    } finally {
      await app.close();
    }
  });
});

describe('createHttpApp: an address the router refuses itself', () => {
  test('is a 400 in our shape, the path not echoed, with the headers every answer carries (no scope hook runs for it)', async () => {
    const app = createHttpApp(memoryLogger());
    app.get('/invoices/:id', async () => ({ ok: true }));
    try {
      const res = await app.inject({ method: 'GET', url: '/invoices/%zz<script>' });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: 'the address is not valid' });
      assert.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['cache-control'], 'no-store');
    } finally {
      await app.close();
    }
  });
});

describe('createHttpApp: an address no route matches, a long parameter', () => {
  test('is logged as `(no route)`, never as sent: an escaped `?` keeps a sign-in link in the path, and it must not reach the logs', async () => {
    const log = memoryLogger();
    const app = createHttpApp(log);
    app.get('/signin', async () => ({ ok: true }));
    try {
      const res = await app.inject({ method: 'GET', url: '/signin%3Flink=vl_secretsecretsecret' });
      assert.equal(res.statusCode, 404);
      assert.ok(!log.lines.some((l) => l.includes('vl_')), log.lines.join('\n'));
      assert.ok(
        log.lines.some((l) => /event=http\.request method=GET path="\(no route\)" status=404/.test(l)),
        log.lines.join('\n'),
      );
      await app.inject({ method: 'GET', url: '/signin?link=vl_secretsecretsecret' });
      assert.ok(
        log.lines.some((l) => /path=\/signin status=200/.test(l)),
        log.lines.join('\n'),
      );
      assert.ok(!log.lines.some((l) => l.includes('vl_')), log.lines.join('\n'));
    } finally {
      await app.close();
    }
  });

  test('a 128-character id reaches its route (the router refused over 100 with 414), even with every character escaped; past MAX_PARAM_LENGTH is still a 414', async () => {
    const app = createHttpApp(memoryLogger());
    app.get('/v1/accounts/:account_id/usage', async (req) => ({ account: (req.params as { account_id: string }).account_id }));
    try {
      const id = 'a'.repeat(128);
      const plain = await app.inject({ method: 'GET', url: `/v1/accounts/${id}/usage` });
      assert.equal(plain.statusCode, 200, plain.body);
      assert.deepEqual(plain.json(), { account: id });
      const escaped = await app.inject({ method: 'GET', url: `/v1/accounts/${'%61'.repeat(128)}/usage` });
      assert.equal(escaped.statusCode, 200, escaped.body);
      assert.deepEqual(escaped.json(), { account: id });
      const over = await app.inject({ method: 'GET', url: `/v1/accounts/${'a'.repeat(MAX_PARAM_LENGTH + 1)}/usage` });
      assert.equal(over.statusCode, 414, over.body);
    } finally {
      await app.close();
    }
  });
});

describe('createHttpApp: a stream that fails before its first byte', () => {
  test('is answered as any error: its status (a 409 here) in our JSON shape, not the file it was to be', async () => {
    const app = createHttpApp(memoryLogger());
    app.get('/file.csv', async (_req, reply) => {
      // As an export found unfinished in its own snapshot: it fails before its first row.
      async function* rows(ready: boolean): AsyncGenerator<string> {
        if (ready) yield 'a,b\r\n';
        throw Object.assign(new Error('not ready yet'), { statusCode: 409 });
      }
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="file.csv"')
        .send(Readable.from(rows(false)));
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/file.csv' });
      assert.equal(res.statusCode, 409, res.body);
      assert.deepEqual(res.json(), { error: 'not ready yet' });
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal(res.headers['content-disposition'], undefined);
    } finally {
      await app.close();
    }
  });
});
