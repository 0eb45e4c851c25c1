// `npm run bench:invoicing [-- --accounts N --intervals-per-app K --export-lines L --settled-months M]`:
// writes a month of usage for N accounts (2 apps each, K intervals per app)
// where metering keeps it (and, with M, an interval per app in each of the M
// months before, settled in their months' tables as the archive leaves them),
// then measures in the same run the limit (one SQL aggregate of the same
// intervals into the same lines) and finalizing the month in a process of its
// own (bench/finalize-child.ts) with its peak RSS, then the usage horizon's gate
// over the months up to it (what `vault archive` asks while consumers wait);
// ends with api.md's JSON line.
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { ensureEmbeddedPostgres, migrate, withTransaction } from '@vault/db';
import { benchCount, benchFlags, benchUsageError, freshDatabaseOn } from '@vault/testkit';
import { firstOpenMonth } from '../src/billing/final-months.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { foldAllUsageChanges } from '../src/billing/usage-days.ts';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { LINE_USAGE_SQL } from '../src/billing/line-usage.ts';
import { generateMonth, type BenchShape } from './data.ts';
import { benchExport } from './export.ts';
import type { FinalizeChildResult } from './finalize-child.ts';
import { seedSettledMonths } from './settled-months.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const PERIOD = '2026-10';
const NEXT_PERIOD = '2026-11';
const say = (line: string) => process.stdout.write(`${line}\n`);
const seconds = (msTotal: number) => `${(msTotal / 1000).toFixed(2)} s`;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const values = benchFlags({
  accounts: { type: 'string' },
  'intervals-per-app': { type: 'string' },
  'export-lines': { type: 'string' },
  'settled-months': { type: 'string' },
});
const shape: BenchShape = {
  accounts: benchCount('--accounts', values.accounts, 10_000, 1),
  appsPerAccount: 2,
  intervalsPerApp: benchCount('--intervals-per-app', values['intervals-per-app'], 10, 1),
};
const exportLines = benchCount('--export-lines', values['export-lines'], 0, 0);
const settledMonths = benchCount('--settled-months', values['settled-months'], 0, 0);
// The bench's own durable PostgreSQL when DATABASE_URL is unset, as bench:usage's.
const benchHome = process.env.BENCH_HOME || join(root, '.vault', 'bench');
const pgPort = benchCount('BENCH_PG_PORT', process.env.BENCH_PG_PORT || undefined, 55434, 1);
if (pgPort > 65535) benchUsageError(`BENCH_PG_PORT: must be a port (1–65535), got ${pgPort}`);
// Extra node flags for the finalize process (e.g. --cpu-prof --cpu-prof-dir=DIR to profile it).
const childFlags = (process.env.BENCH_FINALIZE_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');

// The limit: finalize's own usage statement over the month, every account, nothing returned but a count.
const AGGREGATE = {
  text: `select count(*) as lines, sum(ms::numeric) as ms from (${LINE_USAGE_SQL}) lines`,
  values: ['2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z', null, null, null],
};

/** Runs the finalize process against `url`; its log lines go through to stdout, its last line is its result. */
function finalizeProcess(url: string): Promise<FinalizeChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...childFlags, '--import', 'tsx', join(root, 'services/invoicing/bench/finalize-child.ts')], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: url, BENCH_PERIOD: PERIOD },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let last = '';
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (last) say(`  ${last}`);
      last = line;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`the finalize process exited with ${code}`));
      else resolve(JSON.parse(last) as FinalizeChildResult);
    });
  });
}

/**
 * What writing finalize's rows costs the database alone: each table's rows
 * copied by one statement into a table like it (same indexes, no triggers),
 * nothing parsed or sent by a client.
 */
async function writeFloor(): Promise<number> {
  const tables = ['invoices', 'invoice_lines', 'notices'];
  const { rows } = await db.pool.query<{ name: string }>(
    `select relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'invoicing' and relname = any($1::text[])`,
    [tables],
  );
  let ms = 0;
  for (const { name } of rows) {
    await db.pool.query(`create table bench_floor_${name} (like invoicing.${name} including all)`);
    const t0 = performance.now();
    await db.pool.query(`insert into bench_floor_${name} overriding system value select * from invoicing.${name}`);
    ms += performance.now() - t0;
  }
  return ms;
}

let server: { url: string; stop(options?: { force?: boolean }): Promise<void> } | undefined;
let serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  server = await ensureEmbeddedPostgres({
    dir: join(benchHome, 'postgres'),
    port: pgPort,
    fast: false,
    log: (e) => say(`postgres: ${e}`),
  });
  serverUrl = server.url;
}
const db = await freshDatabaseOn(serverUrl, 'bench_invoicing');
try {
  await migrate(db.pool, 'metering', join(root, 'services', 'metering', 'migrations'));
  await ensureInvoicingSchema(db.pool);
  say(`bench: generating ${shape.accounts} accounts × ${shape.appsPerAccount} apps × ${shape.intervalsPerApp} intervals…`);
  let t0 = performance.now();
  const made = await generateMonth(db.pool, shape);
  say(`bench: ${made.intervals} intervals on ${made.apps} apps in ${seconds(performance.now() - t0)}`);
  if (settledMonths > 0) {
    const settled = await seedSettledMonths(db.pool, settledMonths, DateTime.fromISO(`${PERIOD}-01T00:00:00Z`, { zone: 'utc' }));
    say(`bench: ${settled.intervals} settled intervals in the ${settledMonths} months before ${PERIOD}, a table each`);
  }
  // As the service's fold job does while the month's usage arrives: finalize reads these aggregates.
  t0 = performance.now();
  const folded = await foldAllUsageChanges(db.pool, 1_000);
  say(`bench: usage aggregates of ${folded} apps folded in ${seconds(performance.now() - t0)}`);
  // Settled before anything is timed: the month's rows vacuumed (visibility map, hint bits) so no
  // autovacuum of the fresh tables runs during the limit or finalize, then written out.
  await db.pool.query(
    'vacuum (analyze) metering.usage_intervals, metering.app_ownership, metering.usage_changes, invoicing.usage_days, invoicing.usage_months, invoicing.usage_running, invoicing.unowned_months',
  );
  await db.pool.query('checkpoint');

  const loadBefore = load();
  // Warm the cache the same way for both, then the best of two: the limit at its fastest.
  say('bench: the limit: one SQL aggregate (a warm-up, then twice)…');
  await db.pool.query(AGGREGATE);
  const limits: number[] = [];
  let lines = 0;
  for (let i = 0; i < 2; i++) {
    t0 = performance.now();
    const { rows } = await db.pool.query<{ lines: string }>(AGGREGATE);
    limits.push(performance.now() - t0);
    lines = Number(rows[0]!.lines);
  }
  const limitMs = Math.min(...limits);

  say(`bench: finalize ${PERIOD} in its own process…`);
  const f = await finalizeProcess(db.url);
  // Which invoices it wrote, order aside: two versions of finalize that agree here wrote the same lines.
  const { rows } = await db.pool.query<{ n: string; checksum: string }>(
    `select count(*) as n,
            coalesce(sum(hashtext(concat_ws('|', invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount,
                                            description, adjusts, ms))::bigint), 0)::text as checksum
       from invoicing.invoice_lines`,
  );
  say('bench: the usage horizon’s gate: is every month up to the next one final?…');
  t0 = performance.now();
  const open = await withTransaction(db.pool, (client) =>
    firstOpenMonth(client, { before: NEXT_PERIOD, from: null, prices: loadPriceBook() }),
  );
  const gateMs = performance.now() - t0;
  const loadAfter = load();
  say('bench: the floor of the writes: the same rows copied inside the server…');
  const floorMs = await writeFloor();

  say('');
  say(`invoicing bench: ${made.intervals.toLocaleString('en')} intervals, ${shape.accounts.toLocaleString('en')} accounts`);
  say(`  machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; load average before ${loadBefore}, after ${loadAfter}`);
  say(
    `  limit (one SQL aggregate into ${lines.toLocaleString('en')} lines): ${seconds(limitMs)} (runs: ${limits.map(seconds).join(', ')})`,
  );
  say(
    `  finalize: ${seconds(f.finalizeMs)} = ${(f.finalizeMs / limitMs).toFixed(2)}× the limit; ` +
      `${f.invoices} invoices, ${Number(rows[0]!.n).toLocaleString('en')} lines (checksum ${rows[0]!.checksum}), total ${f.total}`,
  );
  say(`  floor: finalize's rows (invoices, lines, notices) copied inside the server into tables with their indexes: ${seconds(floorMs)}`);
  say(`  finalize again (idempotent, nothing due): ${seconds(f.againMs)}; finalized ${f.againFinalized}`);
  say(`  peak RSS of the finalize process: ${f.peakRssMiB.toFixed(0)} MiB (before finalizing: ${f.baselineRssMiB.toFixed(0)} MiB)`);
  say(
    `  usage horizon's gate (the months before ${NEXT_PERIOD}; consumers wait this long once per vault archive): ${seconds(gateMs)}; ` +
      (open ? `${open.period} open: ${open.reason}` : 'all final'),
  );

  if (exportLines > 0) {
    say(`bench: lines.csv of ${exportLines.toLocaleString('en')} lines…`);
    const x = await benchExport(db.pool, exportLines);
    say(
      `  export lines.csv: ${x.rows.toLocaleString('en')} rows, ${(x.bytes / 1e6).toFixed(1)} MB in ${seconds(x.ms)} ` +
        `(${Math.round(x.rows / (x.ms / 1000)).toLocaleString('en')} rows/s); ` +
        `peak RSS ${x.peakRssMiB.toFixed(0)} MiB (before: ${x.baselineRssMiB.toFixed(0)} MiB)`,
    );
  }
  say(
    JSON.stringify({
      bench: 'invoicing',
      accounts: shape.accounts,
      intervals: made.intervals,
      limit_s: Number((limitMs / 1000).toFixed(3)),
      finalize_s: Number((f.finalizeMs / 1000).toFixed(3)),
      peak_rss_mib: Math.round(f.peakRssMiB),
    }),
  );
} finally {
  await db.drop();
  await server?.stop({ force: true });
}
