// `node --import tsx services/invoicing/bench/export.ts [--lines N]` against
// DATABASE_URL (a fresh database of its own on that server, dropped after):
// one period of N finalized invoice lines (100 per invoice) streamed as
// lines.csv into a sink that counts bytes, sampling the process's RSS every
// 50 ms, to show the export runs in bounded memory, not proportional to the file.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { loadDotEnv } from '@vault/runtime';
import { benchCount, benchFlags, freshDatabaseOn } from '@vault/testkit';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { exportStream, type ExportSummary } from '../src/exports/index.ts';
import { rssSampler } from './rss.ts';

export interface ExportBenchResult {
  /** Data rows in the file (its control row says the same). */
  rows: number;
  bytes: number;
  /** From the first read to the control row. */
  ms: number;
  peakRssMiB: number;
  /** RSS just before the export, after the rows were inserted. */
  baselineRssMiB: number;
}

const BENCH_PERIOD = '2031-01';
const LINES_PER_INVOICE = 100;

// Every 50th line is a credit; descriptions need quoting; every 10th starts with `=`.
const AMOUNT = `(case when p % 50 = 0 then -3.61 else ((p % 10) + 1) * 2.50 end)`;

/**
 * Inserts `lines` finalized lines for `period` (10,000 invoices of 100 lines for
 * a million), streams that period's lines.csv, and checks the control row
 * against the database's own count and sum.
 */
export async function benchExport(pool: pg.Pool, lines = 1_000_000, period = BENCH_PERIOD): Promise<ExportBenchResult> {
  if (!Number.isInteger(lines) || lines < 1) throw new RangeError(`lines must be a positive integer, got ${lines}`);
  const { rows: existing } = await pool.query('select 1 from invoicing.invoices where period = $1 limit 1', [period]);
  if (existing.length > 0) throw new Error(`period ${period} already has invoices: bench on a fresh database`);
  const invoices = Math.ceil(lines / LINES_PER_INVOICE);
  const numberWidth = Math.max(6, String(invoices).length);
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total, finalized_at)
     select 'bench-' || g, 'acct-' || g, $1, ($1 || '-01T00:00:00Z')::timestamptz, ($1 || '-01T00:00:00Z')::timestamptz + interval '1 month',
            $1 || '-' || lpad(g::text, $5, '0'), 'finalized', 'USD',
            (select sum(${AMOUNT}) from generate_series(1, least($3, $2 - (g - 1) * $3)) p),
            ($1 || '-01T00:00:00Z')::timestamptz + interval '1 month 3 days'
       from generate_series(1, $4::int) g`,
    [period, lines, LINES_PER_INVOICE, invoices, numberWidth],
  );
  await pool.query('select invoicing.ensure_lines_month($1)', [period]);
  await pool.query(
    `insert into invoicing.invoice_lines (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, adjusts, ms)
     select $4::text || '-' || lpad(g::text, $5, '0'), 'bench-' || g, p, 'app-' || g,
            case when p % 50 = 0 then 'adjustment' else 'dyno' end,
            'web.' || p, 'dyno:standard-1x',
            case when p % 50 = 0 then -0.1444444 else 1 end,
            case when p % 50 = 0 then 25.00 else ((p % 10) + 1) * 2.50 end,
            ${AMOUNT},
            case when p % 10 = 0 then '=web.' || p || ', "bench"' else 'web.' || p || ' standard-1x, "bench"' end,
            case when p % 50 = 0 then '2030-12' end,
            2678400000
       from generate_series(1, $2::int) g cross join generate_series(1, $3::int) p
      where (g - 1) * $3 + p <= $1`,
    [lines, invoices, LINES_PER_INVOICE, period, numberWidth],
  );
  await pool.query('analyze invoicing.invoices, invoicing.invoice_lines');
  const { rows: expected } = await pool.query<{ n: string; total: string }>(
    `select count(*)::text as n, sum(l.amount)::text as total
       from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_number = i.number where i.period = $1`,
    [period],
  );

  globalThis.gc?.();
  const rss = rssSampler();
  let bytes = 0;
  let summary: ExportSummary | undefined;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done();
    },
  });
  const started = performance.now();
  let memory: { peakMiB: number; baselineMiB: number };
  try {
    await pipeline(exportStream(pool, 'lines', period, { onDone: (s) => (summary = s) }), sink);
  } finally {
    memory = rss.stop();
  }
  const ms = performance.now() - started;

  if (!summary) throw new Error('the export ended without its control row');
  if (String(summary.rows) !== expected[0]!.n || summary.total !== expected[0]!.total) {
    throw new Error(
      `control row ${summary.rows} rows / ${summary.total} differs from the database's ${expected[0]!.n} / ${expected[0]!.total}`,
    );
  }
  return {
    rows: summary.rows,
    bytes,
    ms: Math.round(ms),
    peakRssMiB: Math.round(memory.peakMiB * 10) / 10,
    baselineRssMiB: Math.round(memory.baselineMiB * 10) / 10,
  };
}

async function runAlone(): Promise<void> {
  const lines = benchCount('--lines', benchFlags({ lines: { type: 'string' } }).lines, 1_000_000, 1);
  loadDotEnv();
  const server = process.env.DATABASE_URL;
  if (!server) {
    console.error('bench: set DATABASE_URL to a PostgreSQL server (a fresh database is created on it, and dropped)');
    process.exit(2);
  }
  const db = await freshDatabaseOn(server, 'bench_export');
  try {
    await ensureInvoicingSchema(db.pool);
    const inserting = performance.now();
    const r = await benchExport(db.pool, lines);
    const insertAndExportS = (performance.now() - inserting) / 1000;
    const mb = r.bytes / 1e6;
    console.log(
      `lines.csv: ${r.rows.toLocaleString('en-US')} rows, ${mb.toFixed(1)} MB in ${(r.ms / 1000).toFixed(2)} s ` +
        `(${Math.round(r.rows / (r.ms / 1000)).toLocaleString('en-US')} rows/s, ${(mb / (r.ms / 1000)).toFixed(1)} MB/s)`,
    );
    console.log(
      `RSS: baseline ${r.baselineRssMiB} MiB, peak ${r.peakRssMiB} MiB (+${(r.peakRssMiB - r.baselineRssMiB).toFixed(1)} MiB for a ${(r.bytes / 2 ** 20).toFixed(0)} MiB file)`,
    );
    console.log(`(setup and export together: ${insertAndExportS.toFixed(1)} s)`);
    console.log(JSON.stringify(r));
  } finally {
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runAlone();
