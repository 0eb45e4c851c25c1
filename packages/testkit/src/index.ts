import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';

/** Set by scripts/test.mjs, which starts the servers before any test runs. */
function required(name: 'TEST_DATABASE_URL' | 'TEST_KAFKA_BROKERS'): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is unset: run the tests through \`npm test\``);
  return value;
}

export function testKafkaBrokers(): string[] {
  return required('TEST_KAFKA_BROKERS').split(',');
}

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** A database of its own for one test file, on the real test server (a copy of `template`, when given). */
export function freshDatabase(prefix = 't', opts: { template?: string } = {}): Promise<TestDatabase> {
  return freshDatabaseOn(required('TEST_DATABASE_URL'), prefix, opts);
}

/** A new database on the server `admin` connects to (a copy of `template`, when given), dropped by `drop()`. */
export async function freshDatabaseOn(admin: string, prefix: string, opts: { template?: string } = {}): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  // A prefix that is no identifier would fail below and leave the client open, hanging the run.
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix))
    throw new Error(`freshDatabase: prefix ${JSON.stringify(prefix)} is not a lower-case SQL identifier`);
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    if (opts.template === undefined) await client.query(`create database ${name}`);
    else await createFromTemplate(client, name, opts.template);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  // A test that starves its pool fails with pg's timeout instead of hanging until the runner's.
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10, connectionTimeoutMillis: 30_000 });
  pool.on('error', () => {});
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end();
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await closedSessions(c, name, 5_000);
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Waits until no session is connected to database `name`, or `timeoutMs`.
 * A pool's end() resolves before its connections have closed; dropping the
 * database with (force) meanwhile ends one whose client has already lost its
 * pool's error listener: an uncaught error after the file's tests passed.
 */
async function closedSessions(c: pg.Client, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await c.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where datname = $1 and backend_type = 'client backend'`,
      [name],
    );
    if (rows[0]!.n === 0 || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Gateway keys for a test to configure explicitly (GATEWAY_SECRET_KEY and
 * GATEWAY_PUBLISHABLE_KEY, or the sandbox in-process): an installation's own
 * sandbox keys are generated, and read with `sandboxKeys` from @vault/gateway.
 */
export const TEST_GATEWAY_SECRET_KEY = 'sk_test_vault_tests';
export const TEST_GATEWAY_PUBLISHABLE_KEY = 'pk_test_vault_tests';

/** Unique names so test files sharing one broker never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * Polls until `check` returns true, or fails with `what` after `timeoutMs`;
 * `what` may be a function, to name the last state seen when it fails.
 */
export async function eventually(
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
}

/** A TCP port nobody listens on right now, for a child process to take. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
export * from './service.ts';
export * from './vault-cli.ts';
export * from './supervised.ts';

/**
 * Deadlocks PostgreSQL has broken in the pool's database since it was
 * created (its own statistics, flushed first so the count is current).
 */
export async function deadlocksIn(pool: pg.Pool): Promise<number> {
  await pool.query('select pg_stat_force_next_flush()');
  const { rows } = await pool.query<{ n: number }>('select deadlocks::int as n from pg_stat_database where datname = current_database()');
  return rows[0]!.n;
}
export * from './schemas.ts';
export * from './bench-args.ts';
export * from './kafka-topics.ts';

/** `create database … template …`, again while the template's last sessions close (a pool's end() does not wait for them). */
async function createFromTemplate(client: pg.Client, name: string, template: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(template))
    throw new Error(`freshDatabase: template ${JSON.stringify(template)} is not a lower-case SQL identifier`);
  for (let tries = 0; ; tries++) {
    try {
      await client.query(`create database ${name} template ${template}`);
      return;
    } catch (err) {
      // 55006: the template is being accessed by other users.
      if ((err as { code?: string }).code !== '55006' || tries > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
