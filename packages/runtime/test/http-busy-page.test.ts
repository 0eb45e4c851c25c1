// A request the database cannot answer now is a 503 with Retry-After. A browser opening a page gets
// it as a small HTML page, an API caller (a /v1 address, a script's fetch, curl) as JSON, as before.
// A session the server ends mid-request (idle_in_transaction_session_timeout, 25P03) is the same 503.
// Real PostgreSQL, the app listening on a real port, asked by fetch with a browser's Accept header.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openPool, openRequestPool, withSessionSettings, withTransaction } from '@vault/db';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { createHttpApp, databaseLimitOf, memoryLogger } from '../src/index.ts';

/** What Chromium sends when it opens a page or posts a form. */
const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
const LIMIT_MS = 300;

describe('createHttpApp: the busy answer, a page to a browser and JSON to programs', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let holder: pg.Client;
  const log = memoryLogger();
  const app = createHttpApp(log, { statementTimeoutMs: LIMIT_MS });
  let base: string;
  const read = async () => (await pool.query('select count(*)::int as n from held')).rows[0];
  app.get('/invoices', read);
  app.post('/signin', read);
  app.get('/v1/usage', read);

  before(async () => {
    db = await freshDatabase();
    await db.pool.query('create table held (n int)');
    pool = openRequestPool(db.url, { statementTimeoutMs: LIMIT_MS, max: 2 });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    // The table's lock held by a session of the test's own: every read of it waits, and stops at the limit.
    holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('begin');
    await holder.query('lock table held in access exclusive mode');
  });
  after(async () => {
    await holder?.end().catch(() => {});
    await app.close();
    await pool?.end();
    await db?.drop();
  });

  test("a browser's page request stopped at the statement limit gets an HTML 503 page with Retry-After: a sentence, no stack, no SQL", async () => {
    for (const method of ['GET', 'POST'] as const) {
      const url = method === 'GET' ? `${base}/invoices` : `${base}/signin`;
      const res = await fetch(url, { method, headers: { accept: BROWSER_ACCEPT } });
      assert.equal(res.status, 503, method);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      const body = await res.text();
      assert.match(body, /^<!doctype html>/);
      assert.match(body, /The service is busy right now and could not answer\. Nothing was changed: please try again in a few seconds\./);
      assert.doesNotMatch(body, /cancel|statement|held|57014|at .*\.ts|Error/);
    }
    assert.equal(log.lines.filter((l) => /at=warn event=http\.database_timeout .*reason=statement_timeout/.test(l)).length, 2);
    assert.ok(!log.lines.some((l) => /at=error/.test(l)), log.lines.join('\n'));
  });

  test('an API address, a fetch accepting anything, or a caller preferring JSON get the JSON 503 as before', async () => {
    const asked: [string, string][] = [
      ['/v1/usage', BROWSER_ACCEPT],
      ['/invoices', '*/*'],
      ['/invoices', 'application/json, text/html;q=0.5'],
      ['/invoices', ''],
    ];
    for (const [path, accept] of asked) {
      const res = await fetch(`${base}${path}`, { headers: accept === '' ? {} : { accept } });
      assert.equal(res.status, 503, `${path} ${accept}`);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(await res.json(), { error: 'the database is busy: try again in a few seconds' });
    }
  });
});

describe('createHttpApp: the server ending the request session (25P03, idle in a transaction)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('25P03 is a database limit: idle_in_transaction_timeout', () => {
    assert.equal(databaseLimitOf({ code: '25P03' }), 'idle_in_transaction_timeout');
  });

  test('a transaction left idle past idle_in_transaction_session_timeout is a 503 with Retry-After, logged http.database_busy reason=session_ended, not a 500', async () => {
    const pool = openPool(withSessionSettings(db.url, { idle_in_transaction_session_timeout: '200' }), { max: 1 });
    const log = memoryLogger();
    const app = createHttpApp(log);
    app.get('/slow', async () =>
      withTransaction(pool, async (client) => {
        await client.query('select 1');
        await sleep(800);
        return (await client.query('select 2 as two')).rows[0];
      }),
    );
    try {
      const busy = await app.inject({ method: 'GET', url: '/slow' });
      assert.equal(busy.statusCode, 503, busy.body);
      assert.equal(busy.headers['retry-after'], '5');
      assert.deepEqual(busy.json(), { error: 'the database is busy: try again in a few seconds' });
      assert.ok(
        log.lines.some((l) => /at=warn event=http\.database_busy path=\/slow reason=session_ended/.test(l)),
        log.lines.join('\n'),
      );
      assert.ok(!log.lines.some((l) => /at=error/.test(l)), log.lines.join('\n'));
      // The pool gave the ended session up: the next request is answered.
      assert.equal((await pool.query('select 3 as three')).rows[0].three, 3);
    } finally {
      await app.close();
      await pool.end();
    }
  });

  test('a statement failing with 25P03 itself is the same 503, logged http.database_timeout reason=idle_in_transaction_timeout', async () => {
    const log = memoryLogger();
    const app = createHttpApp(log, { statementTimeoutMs: 1000 });
    app.get('/ended', async () => {
      throw Object.assign(new Error('terminating connection due to idle-in-transaction timeout'), { code: '25P03' });
    });
    try {
      const busy = await app.inject({ method: 'GET', url: '/ended', headers: { accept: BROWSER_ACCEPT } });
      assert.equal(busy.statusCode, 503, busy.body);
      assert.equal(busy.headers['retry-after'], '5');
      assert.match(String(busy.headers['content-type']), /^text\/html/);
      assert.ok(
        log.lines.some((l) => /at=warn event=http\.database_timeout path=\/ended reason=idle_in_transaction_timeout/.test(l)),
        log.lines.join('\n'),
      );
      assert.ok(!log.lines.some((l) => /at=error/.test(l)), log.lines.join('\n'));
    } finally {
      await app.close();
    }
  });
});
