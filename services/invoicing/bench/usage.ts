// `npm run bench:usage [-- --rate R --seconds S --accounts N --settled-months M --no-wait-aggregates]`:
// current usage (api.md) for N accounts with this month's usage so far, half
// `GET /v1/accounts/:id/usage` with the account's token, half the `/usage`
// page with a signed-in session, offered open-loop at R requests/s for S s to
// the real invoicing server in its own process; beside it, in the same run,
// `GET /health` offered the same way (the baseline). Ends with api.md's JSON line.
// Its PostgreSQL: DATABASE_URL's server, else an embedded one under
// BENCH_HOME (default .vault/bench) on BENCH_PG_PORT (default 55434).
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { ensureEmbeddedPostgres, migrate } from '@vault/db';
import { benchCount, benchFlags, benchUsageError, freshDatabaseOn } from '@vault/testkit';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { apiProblem, httpClient, pageProblem, type Answer } from './usage-http.ts';
import { runOpenLoop, seededRandom, summarize, type LoadRun, type LoadSummary } from './usage-load.ts';
import { startInvoicing, type BenchServer } from './usage-server.ts';
import { seedSettledMonths } from './settled-months.ts';
import { accountId, awaitAggregates, credentials, seedThisMonth } from './usage-setup.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const say = (line: string) => process.stdout.write(`${line}\n`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const REQUEST_TIMEOUT_MS = 5_000;
const SESSIONS = 200;
const VERIFY_FIRST = 20;
const WARM_UP_SECONDS = 5;

/** The flags and BENCH_ variables, each checked; a bad one ends the bench naming it. */
function settings() {
  const values = benchFlags({
    accounts: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    'no-wait-aggregates': { type: 'boolean', default: false },
    'aggregates-timeout': { type: 'string' },
    'settled-months': { type: 'string' },
  });
  const pgPort = benchCount('BENCH_PG_PORT', process.env.BENCH_PG_PORT || undefined, 55434, 1);
  if (pgPort > 65535) benchUsageError(`BENCH_PG_PORT: must be a port (1–65535), got ${pgPort}`);
  return {
    accounts: benchCount('--accounts', values.accounts, 10_000, 1),
    rate: benchCount('--rate', values.rate, 200, 1),
    seconds: benchCount('--seconds', values.seconds, 20, 1),
    waitAggregates: !values['no-wait-aggregates'],
    aggregatesTimeoutS: benchCount('--aggregates-timeout', values['aggregates-timeout'], 600, 1),
    settledMonths: benchCount('--settled-months', values['settled-months'], 0, 0),
    benchHome: process.env.BENCH_HOME || join(root, '.vault', 'bench'),
    pgPort,
  };
}
let options: ReturnType<typeof settings>;
try {
  options = settings();
} catch (err) {
  process.stderr.write(`bench:usage: ${(err as Error).message}\n`);
  process.exit(2);
}
const { accounts, rate, seconds, aggregatesTimeoutS, settledMonths, benchHome, pgPort } = options;

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const line = (s: LoadSummary) => `p50 ${ms(s.p50)} ms, p99 ${ms(s.p99)} ms, errors ${s.errors} at ${s.rps.toFixed(1)} rps`;
const errorsOf = (s: LoadSummary) =>
  [...s.errorKinds]
    .slice(0, 5)
    .map(([why, n]) => `    ${n} × ${why}`)
    .join('\n');
const part = (run: LoadRun, keep: (i: number) => boolean) =>
  summarize(
    run.outcomes.filter((_, i) => keep(i)),
    run.elapsedMs,
  );

mkdirSync(benchHome, { recursive: true });
let pg: { url: string; stop(options?: { force?: boolean }): Promise<void> } | undefined;
let db: Awaited<ReturnType<typeof freshDatabaseOn>> | undefined;
let server: BenchServer | undefined;
let failed = false;
try {
  let pgUrl = process.env.DATABASE_URL;
  if (!pgUrl) {
    pg = await ensureEmbeddedPostgres({ dir: join(benchHome, 'postgres'), port: pgPort, fast: false, log: (e) => say(`postgres: ${e}`) });
    pgUrl = pg.url;
  }
  db = await freshDatabaseOn(pgUrl, 'bench_usage');
  await migrate(db.pool, 'metering', join(root, 'services', 'metering', 'migrations'));
  // cc-forms' cards, which invoicing's charge loop reads, as in a deployment.
  await migrate(db.pool, 'cc_forms', join(root, 'services', 'cc-forms', 'migrations'));
  await ensureInvoicingSchema(db.pool);
  const now = DateTime.utc();
  say(`bench: this month so far (${now.toFormat('yyyy-MM')} up to ${now.toISO()}): ${accounts} accounts × 2 apps × 10 intervals…`);
  let t0 = performance.now();
  const made = await seedThisMonth(db.pool, { accounts, appsPerAccount: 2, intervalsPerApp: 10 }, now);
  say(`bench: ${made.intervals} intervals on ${made.apps} apps in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  if (settledMonths > 0) {
    t0 = performance.now();
    const settled = await seedSettledMonths(db.pool, settledMonths, now);
    say(
      `bench: ${settled.intervals} settled intervals in the ${settledMonths} months before (a table each) in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
    );
  }
  await db.pool.query('checkpoint');

  server = await startInvoicing({ root, databaseUrl: db.url, logFile: join(benchHome, 'usage-invoicing.log'), bootMs: 120_000 });
  say(`bench: invoicing listening at ${server.base} in its own process (log: ${server.logFile})`);
  if (!options.waitAggregates)
    say('bench: not waiting for the aggregates (--no-wait-aggregates): apps with changes still queued are read live');
  else {
    const took = await awaitAggregates(db.pool, { timeoutMs: aggregatesTimeoutS * 1000, everyMs: 5_000, say });
    say(`bench: aggregates built in ${took.toFixed(1)} s`);
  }

  const client = httpClient(server.base, { timeoutMs: REQUEST_TIMEOUT_MS, sockets: 512 });
  const random = seededRandom(19);
  t0 = performance.now();
  const creds = await credentials(db.pool, client, accounts, SESSIONS, random);
  say(
    `bench: ${creds.tokens.length} account tokens, ${creds.sessions.length} sessions signed in through the pages in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  // Vacuumed now, so no autovacuum of the freshly written tables runs while the load is measured.
  t0 = performance.now();
  await db.pool.query(
    'vacuum (analyze) metering.usage_intervals, metering.settled_usage, metering.app_ownership, metering.usage_changes, invoicing.usage_days, invoicing.tokens, invoicing.sessions',
  );
  say(`bench: tables vacuumed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  /** Request i: even ones the API with a random account's token, odd ones a random signed-in session's page. */
  const usageRequest = async (i: number): Promise<void> => {
    let answer: Answer;
    let problem: string | undefined;
    if (i % 2 === 0) {
      const n = 1 + Math.floor(random() * accounts);
      answer = await client.get(`/v1/accounts/${accountId(n)}/usage`, { authorization: `Bearer ${creds.tokens[n - 1]}` });
      problem = apiProblem(answer, accountId(n));
    } else {
      const s = creds.sessions[Math.floor(random() * creds.sessions.length)]!;
      answer = await client.get('/usage', { cookie: s.cookie });
      problem = pageProblem(answer, s.accountId);
    }
    if (problem) throw new Error(problem);
  };
  const healthRequest = async (): Promise<void> => {
    const answer = await client.get('/health');
    if (answer.status !== 200) throw new Error(`GET /health answered ${answer.status}`);
  };

  // Every answer of the run is checked; these first ones one at a time, so a wrong answer stops the bench
  // before it measures (they also warm both paths up).
  for (let i = 0; i < VERIFY_FIRST; i++) {
    await usageRequest(i);
    await healthRequest();
  }
  say(`bench: ${VERIFY_FIRST} answers checked (the account's draft, its usage page)`);
  // A warm-up at the offered rate, not counted: each of the server's pooled connections plans
  // the composed statement itself for its first few runs (PostgreSQL keeps a generic plan after
  // five), which a server that has been running has long done. Its errors still stop the bench.
  const warm = summarize((await runOpenLoop({ rate, seconds: WARM_UP_SECONDS, send: usageRequest })).outcomes, WARM_UP_SECONDS * 1000);
  if (warm.errors > 0) throw new Error(`the warm-up had ${warm.errors} errors:\n${errorsOf(warm)}`);
  say(
    `bench: warmed up for ${WARM_UP_SECONDS} s (p50 ${warm.p50.toFixed(1)} ms, p99 ${warm.p99.toFixed(1)} ms, not counted); offering ${rate} requests/s for ${seconds} s`,
  );

  const loadBefore = load();
  const health = await runOpenLoop({ rate, seconds, send: healthRequest });
  const usage = await runOpenLoop({ rate, seconds, send: usageRequest });
  const loadAfter = load();
  client.close();
  const h = summarize(health.outcomes, health.elapsedMs);
  const u = summarize(usage.outcomes, usage.elapsedMs);

  say('');
  say(
    `usage bench: ${accounts.toLocaleString('en')} accounts, ${made.intervals.toLocaleString('en')} intervals this month${settledMonths > 0 ? `, ${settledMonths} settled months before it` : ''}`,
  );
  say(`  machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; load average before ${loadBefore}, after ${loadAfter}`);
  say(
    `  date: ${DateTime.utc().toISO()}; offered ${rate} requests/s for ${seconds} s each, open loop, ${REQUEST_TIMEOUT_MS / 1000} s timeout`,
  );
  say(`  usage: ${line(u)} — /health: ${line(h)}`);
  say(`    API  GET /v1/accounts/:id/usage: ${line(part(usage, (i) => i % 2 === 0))}`);
  say(`    page GET /usage:                 ${line(part(usage, (i) => i % 2 === 1))}`);
  if (u.errors > 0) say(`  usage errors:\n${errorsOf(u)}`);
  if (h.errors > 0) say(`  /health errors:\n${errorsOf(h)}`);
  say(
    JSON.stringify({
      bench: 'usage',
      rps: Number(u.rps.toFixed(1)),
      p50_ms: Number(u.p50.toFixed(1)),
      p99_ms: Number(u.p99.toFixed(1)),
      errors: u.errors,
      health_p50_ms: Number(h.p50.toFixed(1)),
      health_p99_ms: Number(h.p99.toFixed(1)),
    }),
  );
} catch (err) {
  failed = true;
  process.stderr.write(`bench:usage failed: ${err instanceof Error ? err.message : String(err)}\n`);
} finally {
  await server?.stop();
  await db?.drop();
  await pg?.stop({ force: true });
}
process.exit(failed ? 1 : 0);
