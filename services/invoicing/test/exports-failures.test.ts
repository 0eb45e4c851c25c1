// The finance CSV exports are streamed from a cursor (stream.ts). They sent the header row before
// the cursor's first fetch, so a first fetch that failed was a 200 cut short, not the app's 503,
// and a fetch failing midway was logged nowhere. Invoicing on a real port, the exports read through
// a pool with a low statement limit, a real PostgreSQL where another session holds a lock.
//
// PostgreSQL takes a cursor's table locks at DECLARE, so no lock on the exported tables can stop a
// fetch itself: the fetch the test picks first waits on a lock of its own table, on the export's
// session and in its transaction, and is stopped at the limit as that fetch would be (57014).
import assert from 'node:assert/strict';
import http from 'node:http';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import type pg from 'pg';
import { openRequestPool } from '@vault/db';
import type { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { runExport } from '../src/cli/export.ts';
import { ADMIN, exportsDatabase, unusedBilling } from './exports-fixture.ts';
import { type Answer, get as getAs, serveLimitedInvoicing, whileLocked as lockedWhile } from './limited-invoicing.ts';

const LIMIT_MS = 300;
const GATE = 'public.export_fetch_gate';
/** Lines of the big month: three fetches of the default 2,000. */
const BIG_LINES = 4500;

const get = (base: string, path: string) => getAs(base, path, ADMIN);

describe('finance exports when a statement fails', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let server: ReturnType<typeof createHttpApp>;
  let log: ReturnType<typeof memoryLogger>;
  let base: string;
  /** Which fetch of the exports' sessions (1: the first) waits on the gate; counted from each test's start. */
  let gateAt: number | undefined;
  /** The gate's wait not stopped at the limit: a test that lets go of the gate itself, at a moment of its choosing. */
  let gateUnlimited = false;
  let fetches = 0;

  before(async () => {
    db = await exportsDatabase();
    await db.pool.query(`create table ${GATE} ()`);
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total)
       values ('inv-big', 'acct-big', '2026-11', '2026-11-01Z', '2026-12-01Z', '2026-11-000001', 'USD', ${BIG_LINES}.00)`,
    );
    await db.pool.query(`select invoicing.ensure_lines_month('2026-11')`);
    await db.pool.query(
      `insert into invoicing.invoice_lines (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, ms)
       select '2026-11-000001', 'inv-big', p, 'app', 'dyno', 'web.' || p, 'dyno:basic', 1, 1.00, 1.00, 'web ' || p, 0
         from generate_series(1, $1::int) p`,
      [BIG_LINES],
    );
    pool = openRequestPool(db.url, { statementTimeoutMs: LIMIT_MS, max: 3 });
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as { query: unknown }).query = async (...args: unknown[]) => {
        const text = (args[0] as { text?: unknown } | null)?.text;
        if (typeof text === 'string' && text.startsWith('fetch ') && ++fetches === gateAt) {
          if (gateUnlimited) await query('set local statement_timeout = 0');
          await query(`select from ${GATE}`);
          if (gateUnlimited) await query(`set local statement_timeout = ${LIMIT_MS}`);
        }
        return query(...args);
      };
    });
    ({ server, log, base } = await serveLimitedInvoicing(LIMIT_MS, {
      pool,
      billing: unusedBilling,
      prices: loadPriceBook(),
      adminToken: ADMIN,
      exports: { pool, concurrency: 3, graceHours: 72 },
    }));
  });
  after(async () => {
    await server?.close();
    await pool?.end();
    await db?.drop();
  });
  beforeEach(() => {
    gateAt = undefined;
    gateUnlimited = false;
    fetches = 0;
  });

  const whileLocked = <T>(table: string, run: () => Promise<T>) => lockedWhile(db.url, table, run);

  const nothingCheckedOut = () => eventually('the export to give its client back', () => pool.totalCount === pool.idleCount, 10_000);

  /** The log's lines from `from` on, once `event` is among them (a stream's error is emitted beside the response's end). */
  async function linesWith(from: number, event: string): Promise<string[]> {
    for (let i = 0; i < 50 && !log.lines.slice(from).some((l) => l.includes(`event=${event}`)); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return log.lines.slice(from);
  }

  function assertBusy(res: Answer, lines: string[], route: string) {
    assert.equal(res.status, 503, res.body);
    assert.equal(res.headers['retry-after'], '5');
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.headers['content-disposition'], undefined, 'no file name on an error');
    assert.ok(res.complete);
    assert.deepEqual(JSON.parse(res.body), { error: 'the database is busy: try again in a few seconds' });
    assert.ok(
      lines.some((l) => l.includes('at=warn event=http.database_timeout') && l.includes(route) && l.includes('reason=statement_timeout')),
      lines.join('\n'),
    );
    assert.ok(!lines.some((l) => /at=error/.test(l)), lines.join('\n'));
  }

  test('the whole file answers 200 and ends with its control row while nothing is locked', async () => {
    const res = await get(base, '/v1/exports/lines.csv?period=2026-11');
    assert.equal(res.status, 200);
    assert.ok(res.complete);
    assert.equal(res.body.split('\r\n').length, 1 + BIG_LINES + 1 + 1, 'header, the lines, the control row, the last CRLF');
    assert.match(res.body, new RegExp(`\\r\\nTOTAL,${BIG_LINES},`));
  });

  test("lines.csv: the cursor's first fetch stopped at the limit is a 503 with Retry-After, logged, not a 200 cut short after its header", async () => {
    const from = log.lines.length;
    gateAt = 1;
    const res = await whileLocked(GATE, () => get(base, '/v1/exports/lines.csv?period=2026-11'));
    assert.equal(fetches, 1, 'the first fetch was the one stopped');
    assertBusy(res, await linesWith(from, 'http.request'), '/v1/exports/lines.csv');
    await nothingCheckedOut();
  });

  test('invoices.csv: invoices locked, a statement before the cursor stopped at the limit is a 503 with Retry-After', async () => {
    const from = log.lines.length;
    const res = await whileLocked('invoicing.invoices', () => get(base, '/v1/exports/invoices.csv?period=2026-10'));
    assertBusy(res, await linesWith(from, 'http.request'), '/v1/exports/invoices.csv');
    await nothingCheckedOut();
  });

  test('lines.csv: a fetch failing after the first byte cuts the body (never a finished file) and is logged at error naming the route', async () => {
    const from = log.lines.length;
    gateAt = 2;
    const res = await whileLocked(GATE, () => get(base, '/v1/exports/lines.csv?period=2026-11'));
    assert.equal(res.status, 200, 'the status was sent with the first byte');
    assert.equal(res.complete, false, 'the body must not end cleanly');
    assert.match(res.body, /^number,invoice_id,account_id,/);
    assert.doesNotMatch(res.body, /\r\nTOTAL,/, 'no control row');
    const lines = await linesWith(from, 'http.stream_failed');
    const failed = lines.filter((l) => l.includes('event=http.stream_failed'));
    assert.equal(failed.length, 1, lines.join('\n'));
    const line = failed[0]!;
    assert.match(line, / at=error /);
    assert.ok(line.includes('path=/v1/exports/lines.csv'), line);
    assert.ok(line.includes('export=lines'), line);
    assert.ok(line.includes('period=2026-11'), line);
    assert.ok(line.includes('code=57014'), line);
    assert.match(line, /statement timeout/);
    assert.ok(!line.includes(ADMIN), 'no secret in the line');
    assert.ok(!lines.some((l) => l.includes('event=export.done')), 'not done');
    await nothingCheckedOut();
  });

  test('vault export (runExport): a first fetch that fails writes nothing; one failing midway rejects, its output without the control row', async () => {
    const written: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written.push(chunk.toString('utf8'));
        done();
      },
    });
    const request = { kind: 'lines', period: '2026-11' } as const;
    gateAt = 1;
    await whileLocked(GATE, () => assert.rejects(runExport(pool, request, out, { prices: loadPriceBook() }), { code: '57014' }));
    assert.deepEqual(written, [], 'not even the header');
    fetches = 0;
    gateAt = 2;
    await whileLocked(GATE, () => assert.rejects(runExport(pool, request, out, { prices: loadPriceBook() }), { code: '57014' }));
    const text = written.join('');
    assert.match(text, /^number,invoice_id,account_id,/);
    assert.doesNotMatch(text, /\r\nTOTAL,/, 'a file of it has no control row: visibly incomplete');
    await nothingCheckedOut();
  });

  /**
   * A lines.csv GET whose client goes ~100 ms in, while its first fetch waits at the gate (the route
   * still awaiting openExportStream); the gate is let go of once the server has seen the client go.
   */
  async function abandonDuringFirstFetch(): Promise<void> {
    fetches = 0;
    gateAt = 1;
    gateUnlimited = true;
    await whileLocked(GATE, async () => {
      const req = http.get(`${base}/v1/exports/lines.csv?period=2026-11`, { headers: { authorization: `Bearer ${ADMIN}` } });
      req.on('error', () => {}); // the abort's own ECONNRESET
      await eventually('the first fetch to wait at the gate', () => fetches === 1, 10_000);
      await new Promise((r) => setTimeout(r, 100));
      req.destroy();
      await new Promise((r) => setTimeout(r, 100));
    });
  }

  /** Sessions of the test's database left open in a transaction (the abandoned export's snapshot). */
  async function idleInTransaction(): Promise<number> {
    const { rows } = await db.pool.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and state like 'idle in transaction%' and pid <> pg_backend_pid()`,
    );
    return rows[0]!.n;
  }

  test('lines.csv: a client gone while the first batch is read gives the export its connection back, no session left in a transaction', async () => {
    const from = log.lines.length;
    await abandonDuringFirstFetch();
    await nothingCheckedOut();
    await eventually('no session idle in transaction', async () => (await idleInTransaction()) === 0, 10_000);
    assert.ok(!log.lines.slice(from).some((l) => l.includes('event=export.done')), 'not done');
  });

  test('three clients gone during the first fetch leave the exports pool whole: the next GET answers 200 with its control row', async () => {
    for (let i = 0; i < 3; i++) await abandonDuringFirstFetch();
    gateAt = undefined;
    const res = await get(base, '/v1/exports/lines.csv?period=2026-11');
    assert.equal(res.status, 200, res.body);
    assert.ok(res.complete);
    assert.match(res.body, new RegExp(`\\r\\nTOTAL,${BIG_LINES},`));
    await nothingCheckedOut();
    assert.equal(await idleInTransaction(), 0);
  });

  test('once the lock is gone the exports answer whole again, and their slots are free', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await get(base, '/v1/exports/invoices.csv?period=2026-10');
      assert.equal(res.status, 200, res.body);
      assert.ok(res.complete);
      assert.match(res.body, /\r\nTOTAL,3,/);
    }
  });
});
