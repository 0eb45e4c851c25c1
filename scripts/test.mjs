#!/usr/bin/env node
// `npm test`: starts the real infrastructure the tests need (an embedded
// PostgreSQL and a local Kafka broker, the same way `vault kafka start` does),
// runs every test file with Node's test runner, then stops what it started.
// `npm test -- packages/bus` runs only the files whose path contains an argument.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { register } from 'tsx/esm/api';

register();
const { ensureEmbeddedPostgres } = await import('../packages/db/src/index.ts');
const { startKafka, stopKafka } = await import('../packages/kafka-local/src/index.ts');
const { logfmt } = await import('../packages/runtime/src/logfmt.ts');

const root = new URL('..', import.meta.url).pathname;
// TEST_HOME, TEST_PG_PORT and TEST_KAFKA_PORT let two runs share a machine.
const home = process.env.TEST_HOME ?? join(root, '.vault', 'test');
const filters = process.argv.slice(2);
const limitMinutes = Number(process.env.TEST_RUN_MINUTES ?? 60);
if (!(limitMinutes > 0)) {
  console.error(`TEST_RUN_MINUTES must be a positive number of minutes, not ${JSON.stringify(process.env.TEST_RUN_MINUTES)}`);
  process.exit(1);
}
// Each file's own limit (node:test's --test-timeout, which the runner applies to a file's whole
// process): a file that hangs (a socket that never closes) is killed and fails by its name, and
// the others still run. The slowest honest file (test/faults.test.ts: its tests' own limits
// add up to 19 minutes) fits well inside the default.
const fileMinutes = Number(process.env.TEST_FILE_MINUTES ?? 25);
if (!(fileMinutes > 0)) {
  console.error(`TEST_FILE_MINUTES must be a positive number of minutes, not ${JSON.stringify(process.env.TEST_FILE_MINUTES)}`);
  process.exit(1);
}
const log = (line) => process.stdout.write(`${line}\n`);
/** A port variable: an integer 1–65535, or the default when unset; a typo stops the run naming it. */
function portVariable(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`${name} must be a port (an integer 1 to 65535), not ${JSON.stringify(text)}`);
    process.exit(1);
  }
  return port;
}
// The apps and `vault` runs the tests start read the repository's .env (a developer's copy of
// .env.example), and its settings would reach them: a gateway, an SMTP server, a price book.
if (existsSync(join(root, '.env'))) {
  log(
    logfmt({
      at: 'warn',
      event: 'test.dotenv',
      file: join(root, '.env'),
      hint: 'the apps the tests start read it: move it aside for a clean run',
    }),
  );
}
const pgPort = portVariable('TEST_PG_PORT', 55433);
const kafkaPort = portVariable('TEST_KAFKA_PORT', 19092);

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const files = ['packages', 'services', 'test']
  .flatMap((d) => findTests(join(root, d)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const postgres = await ensureEmbeddedPostgres({
  dir: join(home, 'postgres'),
  port: pgPort,
  fast: true,
  log: (event, fields = {}) => log(logfmt({ at: 'info', event, ...fields })),
});
let code = 1;
try {
  const kafka = await startKafka({
    stateDir: join(home, 'kafka'),
    port: kafkaPort,
    log,
  });
  log(logfmt({ at: 'info', event: 'test.infrastructure', postgres: postgres.url, kafka: kafka.brokers }));
  code = await new Promise((resolve) => {
    // No --test-force-exit: with it Node drops the tail of a file's results before the runner reads
    // them, and still exits 0 (nodejs/node#64833: 927 of 940 tests reported in one run here, a failure among
    // the lost ones would have passed). A file kept alive by a socket (after its last test or in
    // one) fails at its own limit (--test-timeout, named), the run at the watchdog below: loud, never green.
    // Its own process group, so the watchdog (or a ^C here) ends the files' processes with it.
    const args = ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${Math.round(fileMinutes * 60_000)}`];
    const child = spawn(process.execPath, [...args, '--test-reporter=spec', ...files], {
      cwd: root,
      stdio: 'inherit',
      detached: true,
      env: { ...process.env, TEST_DATABASE_URL: postgres.url, TEST_KAFKA_BROKERS: kafka.brokers },
    });
    const killAll = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {}
    };
    const watchdog = setTimeout(() => {
      log(
        logfmt({
          at: 'error',
          event: 'test.run_timeout',
          minutes: limitMinutes,
          hint: 'a test file did not exit; the last lines above name it',
        }),
      );
      killAll('SIGKILL');
    }, limitMinutes * 60_000);
    for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => killAll(signal));
    child.on('exit', (c, signal) => {
      clearTimeout(watchdog);
      resolve(c ?? (signal ? 1 : 0));
    });
  });
} catch (err) {
  console.error(`test infrastructure failed: ${err.message}`);
} finally {
  await stopKafka({ stateDir: join(home, 'kafka'), log }).catch(() => {});
  // The suite's own server: stopped even if a test left a session behind.
  await postgres.stop({ force: true });
}
process.exit(code);
