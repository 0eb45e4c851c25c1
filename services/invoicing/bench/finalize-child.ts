// The finalize process of `bench:invoicing`: finalizes BENCH_PERIOD in the
// database at DATABASE_URL with billing's clock fixed, then again (nothing
// due), and prints one JSON line of what it measured, its own peak RSS
// (VmHWM: the kernel's high-water mark, nothing sampled) included. Its log
// lines (progress per chunk) come before it on stdout.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createLogger } from '@vault/runtime';
import { finalizePeriod } from '../src/billing/finalize.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { parsePeriod } from '../src/domain/period.ts';

export interface FinalizeChildResult {
  finalizeMs: number;
  againMs: number;
  invoices: number;
  total: string;
  againFinalized: number;
  /** Before finalizing (modules loaded, pool open) and the process's peak during it. */
  baselineRssMiB: number;
  peakRssMiB: number;
}

/** The process's resident set high-water mark, from /proc (Linux). */
export function peakRssMiB(): number {
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!hwm) throw new Error('VmHWM missing from /proc/self/status');
  return Number(hwm[1]) / 1024;
}

const url = process.env.DATABASE_URL;
const periodKey = process.env.BENCH_PERIOD;
if (!url || !periodKey) throw new Error('DATABASE_URL and BENCH_PERIOD are required');
const pool = new pg.Pool({ connectionString: url, max: 8 });
try {
  const deps = {
    pool,
    prices: loadPriceBook(),
    graceHours: 72,
    now: () => parsePeriod(periodKey).end.plus({ days: 9 }),
    log: createLogger({ app: 'bench-finalize' }),
  };
  await pool.query('select 1');
  const baselineRssMiB = process.memoryUsage().rss / 2 ** 20;
  let t0 = performance.now();
  const report = await finalizePeriod(deps, parsePeriod(periodKey));
  const finalizeMs = performance.now() - t0;
  const peak = peakRssMiB();
  t0 = performance.now();
  const again = await finalizePeriod(deps, parsePeriod(periodKey));
  const result: FinalizeChildResult = {
    finalizeMs,
    againMs: performance.now() - t0,
    invoices: report.finalized,
    total: report.total,
    againFinalized: again.finalized,
    baselineRssMiB,
    peakRssMiB: peak,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await pool.end();
}
