// The card form's script posts JSON (/card/setup-intents, /card, /payments/:id/start) and reads
// cc-forms' error shape `{error: {code, message}}`. When the database cannot answer, runtime's busy
// answer (503, Retry-After) comes to it in that shape, `database_busy` with words for the customer:
// "nothing was saved" when the statement was stopped, "check before trying again" when the server
// ended the session while it ran (it may have been the commit). cc-forms on a real port over a real
// PostgreSQL, a session of the test's own holding cc_forms.sessions' lock, asked as card.js asks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { openRequestPool } from '@vault/db';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually } from '@vault/testkit';
import { DATABASE_BUSY_MESSAGE, DATABASE_OUTCOME_UNKNOWN_MESSAGE } from '../src/domain/messages.ts';
import { holdSessions, routesOver } from './busy-database.ts';
import { accountToken, SESSION_COOKIE, signIn, world, type World } from './world.ts';

const LIMIT_MS = 300;
const ACCOUNT = 'acct-busy-json';
/** The card form's three fetches, with the bodies card.js and pay.js send. */
const SCRIPT_POSTS: [string, unknown][] = [
  ['/card/setup-intents', {}],
  ['/card', { setup_intent: 'seti_busy' }],
  ['/payments/pi_busy/start', {}],
];

describe('the card form script when the database is busy: cc-forms’ JSON shape, real HTTP', { timeout: 120_000 }, () => {
  let w: World;
  const apps: { base: string; pool: pg.Pool; close(): Promise<void> }[] = [];
  const log = memoryLogger({ app: 'cc-forms' });
  let cookie: string;
  let csrf: string;

  /** cc-forms listening on a port, its requests through a pool of their own (statement limit `limitMs`, 0: none). */
  async function start(limitMs: number) {
    const pool = openRequestPool(w.db.url, { statementTimeoutMs: limitMs, max: 2 });
    const app = createHttpApp(log, { statementTimeoutMs: limitMs });
    routesOver(app, { pool, gateway: w.gateway, log });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const started = { base, pool, close: async () => (await app.close(), await pool.end()) };
    apps.push(started);
    return started;
  }
  /** A post as card.js makes it: JSON, the CSRF header, fetch's default Accept. */
  const post = (base: string, path: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    });

  before(async () => {
    w = await world();
    const browser = await signIn(w, await accountToken(w, ACCOUNT));
    cookie = `${SESSION_COOKIE}=${browser.session}`;
    csrf = browser.csrf;
  });
  after(async () => {
    for (const app of apps) await app.close();
    await w?.close();
  });

  test('each script post stopped at the statement limit: 503, Retry-After, {error: {code: database_busy, message: "…Nothing was saved…"}}', async () => {
    const { base } = await start(LIMIT_MS);
    const holder = await holdSessions(w.db.url, 'access exclusive');
    try {
      for (const [path, body] of SCRIPT_POSTS) {
        const res = await post(base, path, body);
        assert.equal(res.status, 503, path);
        assert.equal(res.headers.get('retry-after'), '5', path);
        assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', path);
        assert.deepEqual(await res.json(), { error: { code: 'database_busy', message: DATABASE_BUSY_MESSAGE } }, path);
      }
    } finally {
      await holder.query('commit');
      await holder.end();
    }
    // Still logged by runtime, as every busy answer.
    for (const [path] of SCRIPT_POSTS.slice(0, 2)) {
      assert.ok(
        log.lines.some((l) => l.includes(`at=warn event=http.database_timeout path=${path} reason=statement_timeout`)),
        log.lines.join('\n'),
      );
    }
    assert.ok(!log.lines.some((l) => /at=error/.test(l)), log.lines.join('\n'));
  });

  test('a script post whose session the server ends mid-statement: 503, Retry-After, database_busy saying to check before trying again', async () => {
    const { base } = await start(0);
    const holder = await holdSessions(w.db.url, 'access exclusive');
    try {
      const answer = post(base, '/card/setup-intents', {});
      // The request's statement waiting on the held lock: the server ends that session (a restart, pg_terminate_backend).
      const waiting = async () =>
        (
          await w.db.pool.query<{ pid: number }>(
            `select pid from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%cc_forms.sessions%' and pid <> $1`,
            [(await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid],
          )
        ).rows;
      await eventually('the request waiting on the lock', async () => (await waiting()).length === 1, 10_000);
      await w.db.pool.query('select pg_terminate_backend($1)', [(await waiting())[0]!.pid]);
      const res = await answer;
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.deepEqual(await res.json(), { error: { code: 'database_busy', message: DATABASE_OUTCOME_UNKNOWN_MESSAGE } });
    } finally {
      await holder.query('commit');
      await holder.end();
    }
    assert.ok(
      log.lines.some((l) => l.includes('at=warn event=http.database_busy path=/card/setup-intents reason=session_ended')),
      log.lines.join('\n'),
    );
  });

  test('the card page carries a database_busy message in its table, for the script to show by code', async () => {
    const { base } = await start(LIMIT_MS);
    const page = await fetch(`${base}/card`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.ok((await page.text()).includes(`<li data-code="database_busy">${DATABASE_BUSY_MESSAGE}</li>`));
  });
});
