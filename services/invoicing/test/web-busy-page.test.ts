// The invoice pages when the database cannot answer: a browser gets the busy page (503 text/html,
// Retry-After), never the 500 page; the API keeps its JSON. Invoicing on a real port over a real
// PostgreSQL, asked over HTTP as Chromium asks (its Accept header).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openPool, openRequestPool } from '@vault/db';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { billingDatabase } from './seed.ts';

const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
const LIMIT_MS = 300;
/** A sign-in link's shape (no such link exists: its lookup is what the held lock stops). */
const LINK = `vl_${'a'.repeat(43)}`;

/** Invoicing listening on a free port, its requests querying through `pool`. */
async function invoicing(pool: pg.Pool) {
  const log = memoryLogger({ app: 'invoicing' });
  const prices = loadPriceBook();
  const billing = createBilling({ pool, viewPool: pool, prices, graceHours: 72 });
  const http = createHttpApp(log, { statementTimeoutMs: LIMIT_MS });
  invoicingRoutes(http, { pool, billing, prices, adminToken: 'test-admin-token-busy-0123456789abcdef', log });
  const base = await http.listen({ port: 0, host: '127.0.0.1' });
  return { log, base, close: () => http.close() };
}

describe('the invoice pages when the database is busy', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('the sign-in page stopped at the statement limit behind a held lock is the busy page for a browser, JSON for an API call', async () => {
    const pool = openRequestPool(db.url, { statementTimeoutMs: LIMIT_MS, max: 2 });
    const app = await invoicing(pool);
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table invoicing.sign_in_links in access exclusive mode');
      const page = await fetch(`${app.base}/signin?link=${LINK}`, { headers: { accept: BROWSER_ACCEPT } });
      assert.equal(page.status, 503);
      assert.equal(page.headers.get('retry-after'), '5');
      assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
      const body = await page.text();
      assert.match(body, /<h1>Busy: please try again<\/h1>/);
      assert.doesNotMatch(body, /cancel|statement|sign_in_links|vl_/);
      const script = await fetch(`${app.base}/signin?link=${LINK}`, { headers: { accept: '*/*' } });
      assert.equal(script.status, 503);
      assert.deepEqual(await script.json(), { error: 'the database is busy: try again in a few seconds' });
      assert.ok(!app.log.lines.some((l) => /at=error/.test(l)), app.log.lines.join('\n'));
    } finally {
      await holder.end();
      await app.close();
      await pool.end();
    }
  });

  test('PostgreSQL refusing the session (53300) is the busy page for a browser, not the 500 page', async () => {
    const role = `busy_${process.pid}`;
    await db.pool.query(`create role ${role} login password 'busy' connection limit 0`);
    const url = new URL(db.url);
    url.username = role;
    url.password = 'busy';
    const pool = openPool(url.toString(), { max: 1 });
    const app = await invoicing(pool);
    try {
      const page = await fetch(`${app.base}/signin?link=${LINK}`, { headers: { accept: BROWSER_ACCEPT } });
      assert.equal(page.status, 503);
      assert.equal(page.headers.get('retry-after'), '5');
      assert.match(await page.text(), /<h1>Busy: please try again<\/h1>/);
      assert.ok(
        app.log.lines.some((l) => /at=warn event=http\.database_busy path=\/signin reason=too_many_connections/.test(l)),
        app.log.lines.join('\n'),
      );
      assert.ok(!app.log.lines.some((l) => /at=error/.test(l)), app.log.lines.join('\n'));
    } finally {
      await app.close();
      await pool.end();
      await db.pool.query(`drop role if exists ${role}`);
    }
  });
});
