import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { exportCsv, type ExportKind } from '../src/exports/index.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { ADMIN, collect, exportsDatabase, unusedBilling } from './exports-fixture.ts';

describe('finance exports, streamed: batches, abandoned, stalled and cut-short reads', () => {
  let db: TestDatabase;
  before(async () => {
    db = await exportsDatabase();
  });
  after(async () => {
    await db.drop();
  });

  test('fetching in small batches gives the same bytes, and the generator returns the control figures', async () => {
    for (const kind of ['invoices', 'lines'] as ExportKind[]) {
      const whole = await collect(exportCsv(db.pool, kind, '2026-10'));
      for (const batchSize of [1, 2, 3, 5]) {
        assert.equal(await collect(exportCsv(db.pool, kind, '2026-10', { batchSize })), whole, `${kind} batch ${batchSize}`);
      }
    }
    const chunks = exportCsv(db.pool, 'lines', '2026-10', { batchSize: 2 });
    let next = await chunks.next();
    let pieces = 0;
    while (!next.done) {
      pieces++;
      next = await chunks.next();
    }
    assert.equal(pieces, 1 + 3 + 1, 'header, batches of 2, 2 and 1 rows, control row');
    assert.deepEqual(next.value, { kind: 'lines', period: '2026-10', rows: 5, total: '74.78', sums: { amount: '74.78' }, currency: 'USD' });
  });

  test('an export abandoned midway rolls back and gives its client back to the pool', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const chunks = exportCsv(pool, 'lines', '2026-10', { batchSize: 1 });
      await chunks.next();
      await chunks.next();
      await chunks.return(undefined as never);
      assert.equal(pool.totalCount - pool.idleCount, 0, 'nothing checked out');
      // In a transaction, now() is its start, earlier than this statement's.
      const { rows } = await pool.query<{ in_transaction: boolean }>('select now() <> statement_timestamp() as in_transaction');
      assert.equal(rows[0]!.in_transaction, false, 'the pool’s only client is usable and outside any transaction');
    } finally {
      await pool.end();
    }
  });

  test('a reader that stalls past the idle timeout ends the export without its control row, and the pool recovers', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const chunks = exportCsv(pool, 'lines', '2026-10', { batchSize: 1, idleTimeoutMs: 100 });
      assert.match((await chunks.next()).value as string, /^number,invoice_id,/);
      await new Promise((r) => setTimeout(r, 600));
      const after: string[] = [];
      // The server ended the connection: the export fails, and never reaches its control row.
      await assert.rejects(async () => {
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) after.push(next.value);
      }, /connection/);
      assert.ok(!after.some((chunk) => /^TOTAL/m.test(chunk)), after.join(''));
      assert.equal(pool.totalCount - pool.idleCount, 0, 'nothing checked out');
      assert.equal((await pool.query('select 1 as one')).rows[0].one, 1);
    } finally {
      await pool.end();
    }
  });

  test('a download cut short by the client gives the database client back', { timeout: 60_000 }, async () => {
    // Big enough that the response outlasts the socket's buffers.
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total)
       values ('inv-big', 'acct-big', '2026-11', '2026-11-01Z', '2026-12-01Z', '2026-11-000001', 'USD', 20000.00)`,
    );
    await db.pool.query(`select invoicing.ensure_lines_month('2026-11')`);
    await db.pool.query(
      `insert into invoicing.invoice_lines (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, ms)
       select '2026-11-000001', 'inv-big', p, 'app', 'dyno', 'web.' || p, 'dyno:basic', 1, 1.00, 1.00, repeat('x', 200), 0 from generate_series(1, 20000) p`,
    );
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const appLog = memoryLogger();
    const app = createHttpApp(appLog);
    invoicingRoutes(app, { pool, billing: unusedBilling, prices: loadPriceBook(), adminToken: ADMIN, log: appLog });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as { port: number };
      const abort = new AbortController();
      const res = await fetch(`http://127.0.0.1:${port}/v1/exports/lines.csv?period=2026-11`, {
        headers: { authorization: `Bearer ${ADMIN}` },
        signal: abort.signal,
      });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read();
      abort.abort();
      await eventually('the export to give its client back', () => pool.totalCount > 0 && pool.idleCount === pool.totalCount, 10_000);
      assert.ok(!appLog.lines.some((l) => l.includes('event=export.done')), 'the export was cut short, not finished');
      const again = await fetch(`http://127.0.0.1:${port}/v1/exports/invoices.csv?period=2026-11`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      assert.match(await again.text(), /\r\nTOTAL,1,,,,USD,20000.00,0.00,20000.00,0.00,,20000,0.00\r\n$/);
    } finally {
      await app.close();
      await pool.end();
    }
  });
});
