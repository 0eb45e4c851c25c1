// `npm run bench:invoicing`: finalizes a month of 10,000 accounts and
// 1,000,000 usage intervals, and prints its time beside the limit measured in
// the same run: one SQL aggregate of the same intervals into the same lines.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { ensureEmbeddedPostgres, migrate } from '@vault/db';
import { createLogger } from '@vault/runtime';
import { freshDatabaseOn } from '@vault/testkit';
import { createBilling } from '../src/billing/service.ts';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { LINE_USAGE_SQL } from '../src/billing/line-usage.ts';
import { generateMonth, type BenchShape } from './data.ts';
import { benchExport } from './export.ts';
import { rssSampler } from './rss.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const shape: BenchShape = {
  accounts: Number(process.env.BENCH_ACCOUNTS ?? 10_000),
  appsPerAccount: 2,
  intervalsPerApp: Number(process.env.BENCH_INTERVALS_PER_APP ?? 50),
};
const say = (line: string) => process.stdout.write(`${line}\n`);
const seconds = (msTotal: number) => `${(msTotal / 1000).toFixed(2)} s`;

async function timed<T>(what: string, f: () => Promise<T>): Promise<[T, number]> {
  say(`bench: ${what}…`);
  const t0 = performance.now();
  const value = await f();
  return [value, performance.now() - t0];
}

// The limit: finalize's own usage query over October, every account, nothing returned but a count.
const AGGREGATE = {
  text: `select count(*) as lines, sum(ms::numeric) as ms from (${LINE_USAGE_SQL}) lines`,
  values: ['2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z', null, null],
};

let server: { url: string; stop(): Promise<void> } | undefined;
let serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  server = await ensureEmbeddedPostgres({
    dir: join(root, '.vault', 'bench', 'postgres'),
    port: 55434,
    fast: false,
    log: (e) => say(`postgres: ${e}`),
  });
  serverUrl = server.url;
}
const db = await freshDatabaseOn(serverUrl, 'bench_invoicing');
try {
  await migrate(db.pool, 'metering', join(root, 'services', 'metering', 'migrations'));
  await ensureInvoicingSchema(db.pool);
  const [made, genMs] = await timed(
    `generating ${shape.accounts} accounts × ${shape.appsPerAccount} apps × ${shape.intervalsPerApp} intervals`,
    () => generateMonth(db.pool, shape),
  );
  say(`bench: ${made.intervals} intervals on ${made.apps} apps in ${seconds(genMs)}`);

  // Warm the cache the same way for both: one untimed pass.
  await db.pool.query(AGGREGATE);
  const [limit, limitMs] = await timed('the limit: one SQL aggregate', () => db.pool.query(AGGREGATE));

  const billing = createBilling({
    pool: db.pool,
    prices: loadPriceBook(),
    graceHours: 72,
    now: () => DateTime.fromISO('2026-11-10T00:00:00Z', { zone: 'utc' }),
    // Its invoicing.finalized line splits the time into computing and inserting.
    log: createLogger({ app: 'bench' }),
  });
  const rss = rssSampler();
  const [report, finalizeMs] = await timed('finalize 2026-10', () => billing.finalize('2026-10'));
  const peak = rss.stop();
  const [again, againMs] = await timed('finalize 2026-10 again (nothing to do)', () => billing.finalize('2026-10'));
  const { rows } = await db.pool.query<{ n: string }>('select count(*) as n from invoicing.invoice_lines');

  say('');
  say(`invoicing bench: ${made.intervals.toLocaleString('en')} intervals, ${shape.accounts.toLocaleString('en')} accounts`);
  say(`  limit (one SQL aggregate into ${Number(limit.rows[0].lines).toLocaleString('en')} lines): ${seconds(limitMs)}`);
  say(
    `  finalize: ${seconds(finalizeMs)} = ${(finalizeMs / limitMs).toFixed(1)}× the limit; ` +
      `${report.finalized} invoices, ${Number(rows[0]!.n).toLocaleString('en')} lines, total ${report.total}`,
  );
  say(`  finalize again (idempotent, nothing due): ${seconds(againMs)}; finalized ${again.finalized}, already ${again.alreadyFinalized}`);
  say(`  peak RSS during finalize: ${peak.peakMiB.toFixed(0)} MiB (before: ${peak.baselineMiB.toFixed(0)} MiB)`);

  const exportLines = Number(process.env.BENCH_EXPORT_LINES ?? 1_000_000);
  say(`bench: lines.csv of ${exportLines.toLocaleString('en')} lines…`);
  const x = await benchExport(db.pool, exportLines);
  say(
    `  export lines.csv: ${x.rows.toLocaleString('en')} rows, ${(x.bytes / 1e6).toFixed(1)} MB in ${seconds(x.ms)} ` +
      `(${Math.round(x.rows / (x.ms / 1000)).toLocaleString('en')} rows/s); ` +
      `peak RSS ${x.peakRssMiB.toFixed(0)} MiB (before: ${x.baselineRssMiB.toFixed(0)} MiB)`,
  );
} finally {
  await db.drop();
  await server?.stop();
}
