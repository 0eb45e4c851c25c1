// TLS to PostgreSQL in DATABASE_URL, against the real apps and `vault`. The
// defect: sslmode=prefer, require or verify-ca (how most providers hand out
// URLs) made node-pg print a ten-line SECURITY WARNING on stderr, not logfmt,
// and take them as verify-full: `prefer` failed against a server without TLS,
// `require` failed a provider's own CA. They are refused in one line naming
// the forms that work; those, and uselibpqcompat=true, reach node-pg as written.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { bootToExit, freePort, freshDatabase, migrateApps, startService, vault, type TestDatabase } from '@vault/testkit';

const ADMIN = 'database-tls-admin-token-0123456789abcdef';
const APPS = [
  ['metering', 'METERING_PORT'],
  ['invoicing', 'INVOICING_PORT'],
  ['cc-forms', 'CC_FORMS_PORT'],
  ['gateway-sandbox', 'GATEWAY_PORT'],
] as const;
const LONG = { timeout: 60_000 };

let db: TestDatabase;
before(async () => {
  db = await freshDatabase('dbtls');
  await migrateApps(db);
});
after(() => db?.drop());

/** The test database's URL with `query` added. */
function withQuery(query: string): string {
  const url = new URL(db.url);
  for (const [name, value] of new URLSearchParams(query)) url.searchParams.append(name, value);
  return url.toString();
}

const env = async (portVariable: string, query: string) => ({
  HOST: '127.0.0.1',
  [portVariable]: String(await freePort()),
  KAFKA_BROKERS: '',
  ADMIN_TOKEN: ADMIN,
  DATABASE_URL: withQuery(query),
});

/** Every line logfmt, exactly one at=error, naming DATABASE_URL and each of `says`; never node-pg's warning. */
function assertOneLogfmtError(lines: readonly string[], event: string, ...says: string[]): void {
  const all = lines.join('\n');
  assert.ok(!all.includes('SECURITY WARNING'), `no node-pg warning:\n${all}`);
  for (const line of lines) assert.match(line, /^app=\S+ at=\w+ event=\S+/, `logfmt:\n${all}`);
  const errors = lines.filter((l) => /\bat=error\b/.test(l));
  assert.equal(errors.length, 1, `exactly one error line:\n${all}`);
  assert.match(errors[0]!, new RegExp(`^app=\\S+ at=error event=${event.replace('.', '\\.')} `));
  for (const s of ['DATABASE_URL: ', ...says]) assert.ok(errors[0]!.includes(s), `says ${s}: ${errors[0]}`);
}

describe('DATABASE_URL with sslmode=prefer, require or verify-ca is refused in one line naming the forms that work', () => {
  for (const [app, portVariable] of APPS) {
    test(`${app}: ?sslmode=require is config.invalid, exit 1, no SECURITY WARNING`, LONG, async () => {
      const run = await bootToExit(app, await env(portVariable, 'sslmode=require'));
      assert.equal(run.status, 1, run.lines.join('\n'));
      assertOneLogfmtError(
        run.lines,
        'config.invalid',
        'sslmode=require would mean verify-full to node-pg',
        'sslmode=verify-full',
        'sslmode=no-verify',
        'sslmode=disable',
        'uselibpqcompat=true',
      );
    });
  }

  test('metering: ?sslmode=prefer and ?sslmode=verify-ca too', LONG, async () => {
    for (const [query, says] of [
      ['sslmode=prefer', 'sslmode=prefer is not supported: node-pg never falls back between TLS and no TLS'],
      ['sslmode=verify-ca', 'sslmode=verify-ca would mean verify-full to node-pg'],
      ['uselibpqcompat=true&sslmode=verify-ca', 'sslmode=verify-ca needs sslrootcert=FILE'],
    ] as const) {
      const run = await bootToExit('metering', await env('METERING_PORT', query));
      assert.equal(run.status, 1, run.lines.join('\n'));
      assertOneLogfmtError(run.lines, 'config.invalid', says);
    }
  });

  test('`vault migrate` with ?sslmode=require: one line on stderr, exit 1', LONG, async () => {
    const run = await vault(['migrate'], { DATABASE_URL: withQuery('sslmode=require'), ADMIN_TOKEN: ADMIN, KAFKA_BROKERS: '' });
    assert.equal(run.status, 1, run.stderr);
    assert.ok(!run.stderr.includes('SECURITY WARNING'), run.stderr);
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.ok(lines[0]!.includes('DATABASE_URL: sslmode=require would mean verify-full to node-pg'), lines[0]);
  });
});

describe('DATABASE_URL with a TLS setting that works reaches node-pg as written', () => {
  test('metering: ?sslmode=disable boots without TLS and without a warning', LONG, async () => {
    const app = await startService('metering', await env('METERING_PORT', 'sslmode=disable'));
    try {
      assert.ok(!app.lines.join('\n').includes('SECURITY WARNING'), app.lines.join('\n'));
    } finally {
      await app.kill();
    }
  });

  test(
    'metering: ?sslmode=no-verify and ?uselibpqcompat=true&sslmode=require ask the server for TLS (the test server has none): one boot.failed line, no warning',
    LONG,
    async () => {
      for (const query of ['sslmode=no-verify', 'uselibpqcompat=true&sslmode=require']) {
        const run = await bootToExit('metering', await env('METERING_PORT', query));
        assert.notEqual(run.status, 0, run.lines.join('\n'));
        assertOneLogfmtError(run.lines, 'boot.failed', 'cannot reach PostgreSQL at', 'The server does not support SSL connections');
      }
    },
  );
});

describe('a certificate file DATABASE_URL names that node-pg cannot read is config.invalid naming the parameter and the path', () => {
  test('metering: sslrootcert, sslcert and sslkey naming a missing file (was "cannot reach PostgreSQL … ENOENT")', LONG, async () => {
    for (const name of ['sslrootcert', 'sslcert', 'sslkey']) {
      const run = await bootToExit('metering', await env('METERING_PORT', `sslmode=verify-full&${name}=/nonexistent/tls/file.pem`));
      assert.equal(run.status, 1, run.lines.join('\n'));
      assertOneLogfmtError(run.lines, 'config.invalid', `DATABASE_URL: ${name}=/nonexistent/tls/file.pem: no such file`);
      assert.ok(!run.lines.join('\n').includes('cannot reach PostgreSQL'), run.lines.join('\n'));
    }
  });
});

describe("PGSSLMODE, node-pg's own variable, which it honours when DATABASE_URL has no TLS parameter", () => {
  test('metering: PGSSLMODE=require is config.invalid naming PGSSLMODE and the forms that work', LONG, async () => {
    const run = await bootToExit('metering', { ...(await env('METERING_PORT', '')), PGSSLMODE: 'require' });
    assert.equal(run.status, 1, run.lines.join('\n'));
    const errors = run.lines.filter((l) => /\bat=error\b/.test(l));
    assert.equal(errors.length, 1, run.lines.join('\n'));
    for (const says of [
      'event=config.invalid',
      'PGSSLMODE: require would mean verify-full to node-pg',
      'PGSSLMODE=no-verify',
      'uselibpqcompat=true&sslmode=require in DATABASE_URL',
    ]) {
      assert.ok(errors[0]!.includes(says), `says ${says}: ${errors[0]}`);
    }
  });

  test('metering: PGSSLMODE=no-verify is honoured: TLS asked of the test server, which has none', LONG, async () => {
    const run = await bootToExit('metering', { ...(await env('METERING_PORT', '')), PGSSLMODE: 'no-verify' });
    assert.notEqual(run.status, 0, run.lines.join('\n'));
    assertOneLogfmtError(run.lines, 'boot.failed', 'The server does not support SSL connections');
  });

  test('`vault migrate` on the embedded PostgreSQL (no TLS) with PGSSLMODE=verify-full: the embedded server never takes it', {
    timeout: 120_000,
  }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'vault-pgsslmode-'));
    // The embedded PostgreSQL runs as its own user when we are root: it must reach its directory.
    chmodSync(home, 0o755);
    try {
      const run = await vault(['migrate'], {
        DATABASE_URL: '',
        ADMIN_TOKEN: '',
        KAFKA_BROKERS: '',
        VAULT_HOME: home,
        EMBEDDED_PG_PORT: String(await freePort()),
        PGSSLMODE: 'verify-full',
      });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(existsSync(join(home, 'postgres', 'data', 'postmaster.pid')), false, 'the server it started is stopped');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('`vault start metering` on the embedded PostgreSQL with PGSSLMODE=verify-full: the app it starts connects without TLS', {
    timeout: 180_000,
  }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'vault-pgsslmode-start-'));
    chmodSync(home, 0o755);
    const { DATABASE_URL: _d, ADMIN_TOKEN: _a, ...inherited } = process.env;
    const env = {
      ...inherited,
      VAULT_HOME: home,
      EMBEDDED_PG_PORT: String(await freePort()),
      METERING_PORT: String(await freePort()),
      KAFKA_BROKERS: '',
      PGSSLMODE: 'verify-full',
    };
    const root = fileURLToPath(new URL('../', import.meta.url));
    const child = spawn(process.execPath, ['bin/vault.js', 'start', 'metering'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`metering never listened:\n${out}`)), 150_000);
        const read = (d: Buffer) => {
          out += d;
          if (out.includes('event=app.listening')) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout.on('data', read);
        child.stderr.on('data', read);
        void exited.then(() => reject(new Error(`vault start exited:\n${out}`)));
      });
    } finally {
      child.kill('SIGINT');
      await exited;
      rmSync(home, { recursive: true, force: true });
    }
    assert.ok(!out.includes('SSL'), out);
  });
});
