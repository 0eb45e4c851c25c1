import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually, freePort, freshDatabase, vault, type TestDatabase } from '@vault/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `vault <args>` as a running process: what it has printed so far (stdout and stderr) and its exit code. */
function startVault(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['bin/vault.js', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

describe('the vault command', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('cli');
  });
  after(() => db.drop());

  test('`vault migrate` migrates every app into its own schema, and is idempotent', async () => {
    const first = await vault(['migrate'], { DATABASE_URL: db.url });
    assert.equal(first.status, 0, first.stderr);
    // Each schema gets every file of its migrations folder, once.
    const folders = {
      bus: 'packages/bus/migrations',
      metering: 'services/metering/migrations',
      invoicing: 'services/invoicing/migrations',
      cc_forms: 'services/cc-forms/migrations',
      gateway_sandbox: 'services/gateway-sandbox/migrations',
    };
    const second = await vault(['migrate'], { DATABASE_URL: db.url });
    assert.equal(second.status, 0, second.stderr);
    for (const [schema, folder] of Object.entries(folders)) {
      const files = readdirSync(join(root, folder)).filter((f) => f.endsWith('.sql'));
      assert.ok(files.length > 0, folder);
      assert.match(first.stdout, new RegExp(`event=db.migrated schema=${schema} applied=${files.length} already_applied=0 `));
      assert.match(second.stdout, new RegExp(`event=db.migrated schema=${schema} applied=0 already_applied=${files.length}(?!\\d)`));
    }
  });

  test('an unknown command exits 2 with the usage', async () => {
    const r = await vault(['frobnicate'], {});
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command frobnicate/);
    assert.match(r.stderr, /usage: vault/);
  });

  test('bad configuration exits 1 and names the variable', async () => {
    const r = await vault(['finalize', '--period', '2026-10'], { DATABASE_URL: db.url, INVOICE_GRACE_HOURS: 'soon' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /INVOICE_GRACE_HOURS/);
  });

  test('a command is not stopped by a bad variable only another app reads (each app parses its own)', async () => {
    const others = { SMTP_URL: 'not a url', CARD_ATTEMPTS_PER_HOUR: '0', GATEWAY_SANDBOX_LATENCY_MS: '-1' };
    const simulated = await vault(['simulate', '--out', '-', '--apps', '2', '--weeks', '1', '--now', '2026-11-23T12:00:00Z'], others);
    assert.equal(simulated.status, 0, simulated.stderr);
    const migrated = await vault(['migrate'], { DATABASE_URL: db.url, ...others, INVOICE_GRACE_HOURS: 'soon' });
    assert.equal(migrated.status, 0, migrated.stderr);
    // The same variables stop the command that reads them, every one of them named.
    const card = await vault(['card', 'add', '--account', 'a'], { DATABASE_URL: db.url, ...others });
    assert.equal(card.status, 1, card.stderr);
    assert.match(card.stderr, /CARD_ATTEMPTS_PER_HOUR/);
    assert.doesNotMatch(card.stderr, /SMTP_URL|GATEWAY_SANDBOX_LATENCY_MS/);
  });

  test('`vault start <app>` is not stopped by ADMIN_TOKEN or KAFKA_BROKERS when none of its apps reads them; `vault start` of all apps is', {
    timeout: 60_000,
  }, async () => {
    // compose's `vault start gateway-sandbox` and `vault start cc-forms`, with a database that never answers.
    const env = {
      DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x',
      ADMIN_TOKEN: 'short',
      KAFKA_BROKERS: 'kafka',
      GATEWAY_PORT: String(await freePort()),
      CC_FORMS_PORT: String(await freePort()),
    };
    const some = await vault(['start', 'gateway-sandbox', 'cc-forms'], env);
    const out = some.stdout + some.stderr;
    assert.equal(some.status, 1, out);
    assert.doesNotMatch(out, /invalid configuration|config\.invalid|ADMIN_TOKEN|KAFKA_BROKERS/);
    // The first app to find the database unreachable stops the tree.
    assert.match(out, /(gateway-sandbox|cc-forms) +\| .*event=boot\.failed variable=DATABASE_URL .*cannot reach PostgreSQL/);
    const all = await vault(['start'], env);
    assert.equal(all.status, 1, all.stdout + all.stderr);
    assert.match(all.stderr, /invalid configuration: .*KAFKA_BROKERS: .*ADMIN_TOKEN: must have at least 32 characters/);
    assert.doesNotMatch(all.stdout + all.stderr, /event=app\.|\| /, 'no app was started');
  });

  test('`vault kafka start` names a port the controller cannot have, before starting anything', async () => {
    const home = mkdtempSync(join(tmpdir(), 'vault-kafka-ports-'));
    try {
      const last = await vault(['kafka', 'start'], { VAULT_HOME: home, KAFKA_PORT: '65535', KAFKA_CONTROLLER_PORT: '' });
      assert.equal(last.status, 1, last.stderr);
      assert.match(last.stderr, /KAFKA_PORT: leaves no port after it for the controller/);
      const same = await vault(['kafka', 'start'], { VAULT_HOME: home, KAFKA_PORT: '19500', KAFKA_CONTROLLER_PORT: '19500' });
      assert.equal(same.status, 1, same.stderr);
      assert.match(same.stderr, /KAFKA_CONTROLLER_PORT: must differ from KAFKA_PORT/);
      assert.deepEqual(readdirSync(home), [], 'nothing was started or written');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('`vault start` with DATABASE_URL and no ADMIN_TOKEN exits 1 naming it, before any app starts; an app that reads no token (cc-forms) starts without one', {
    timeout: 60_000,
  }, async () => {
    const r = await vault(['start'], { DATABASE_URL: db.url, ADMIN_TOKEN: undefined, KAFKA_BROKERS: undefined });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /ADMIN_TOKEN: required with DATABASE_URL/);
    assert.doesNotMatch(r.stdout + r.stderr, /event=app\.|\| /, 'no app was started');
    const invoicing = await vault(['start', 'cc-forms', 'invoicing'], { DATABASE_URL: db.url, ADMIN_TOKEN: undefined });
    assert.equal(invoicing.status, 1, 'invoicing among them: refused');

    // The Procfile's `vault start cc-forms`, in a deployment that gives it no ADMIN_TOKEN.
    const { ADMIN_TOKEN: _admin, ...inherited } = process.env;
    const port = await freePort();
    const { child, out, exited } = startVault(['start', 'cc-forms'], {
      ...inherited,
      DATABASE_URL: db.url,
      CC_FORMS_PORT: String(port),
      GATEWAY_SECRET_KEY: 'sk_test_x',
      GATEWAY_PUBLISHABLE_KEY: 'pk_test_x',
    });
    try {
      await eventually('cc-forms to listen', () => out().includes('event=app.listening') || child.exitCode !== null);
      assert.match(out(), /event=app\.listening/, out());
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, out());
  });

  test('`vault start` with a bad variable of one of its apps (INVOICING_PORT=abc, PAYMENT_RETRY_SCHEDULE=bogus, a PRICE_BOOK that is not there, METERING_CONSUMER_GROUP or HOST with stray spaces) exits 1 in one line naming it, before anything starts: no PostgreSQL, no app', {
    timeout: 60_000,
  }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'vault-start-bad-'));
    try {
      const fresh = {
        DATABASE_URL: '',
        ADMIN_TOKEN: undefined,
        KAFKA_BROKERS: undefined,
        VAULT_HOME: home,
        EMBEDDED_PG_PORT: String(await freePort()),
      };
      for (const [variable, value, says] of [
        ['INVOICING_PORT', 'abc', 'INVOICING_PORT: '],
        ['PAYMENT_RETRY_SCHEDULE', 'bogus', 'PAYMENT_RETRY_SCHEDULE: expected comma-separated ISO-8601 durations'],
        ['PRICE_BOOK', join(home, 'nowhere.json'), `PRICE_BOOK: price book ${join(home, 'nowhere.json')}: no such file`],
        ['METERING_CONSUMER_GROUP', 'metering ', 'METERING_CONSUMER_GROUP: has spaces around it'],
        ['HOST', '   ', 'HOST: is only spaces'],
      ] as const) {
        const r = await vault(['start'], { ...fresh, [variable]: value });
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.equal(r.stdout, '', 'nothing started, nothing logged');
        assert.match(r.stderr, /^vault: invalid configuration: [^\n]*\n$/, r.stderr);
        assert.ok(r.stderr.includes(says), r.stderr);
        assert.deepEqual(readdirSync(home), [], 'no embedded PostgreSQL, no admin token');
      }
      // Only its apps' variables: the sandbox reads no PAYMENT_RETRY_SCHEDULE, and starts.
      const port = await freePort();
      const { child, out, exited } = startVault(['start', 'gateway-sandbox'], {
        ...process.env,
        DATABASE_URL: db.url,
        GATEWAY_PORT: String(port),
        PAYMENT_RETRY_SCHEDULE: 'bogus',
      });
      try {
        await eventually('the sandbox to listen', () => out().includes('event=app.listening') || child.exitCode !== null);
        assert.match(out(), /event=app\.listening/, out());
      } finally {
        child.kill('SIGINT');
      }
      assert.equal(await exited, 0, out());
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('`vault start metering` serves /health, and Ctrl-C stops it cleanly', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const { child, out, exited } = startVault(['start', 'metering'], {
      ...process.env,
      DATABASE_URL: db.url,
      METERING_PORT: String(port),
      ADMIN_TOKEN: 'cli-test-admin-token-0123456789abcdef',
    });
    try {
      await eventually('metering to listen', () => out().includes('event=app.listening'));
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok' });
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, out());
    assert.match(out(), /metering +\| app=metering at=info event=app.stopped/);
    // Started with its own Node flags (METERING_NODE_FLAGS): the young generation that keeps it under its memory goal.
    assert.match(out(), /event=metering\.consuming .*node_flags="--max-semi-space-size=8 /);
  });

  test('`vault start` whose embedded PostgreSQL cannot start (VAULT_HOME under a file) says so in one line naming the variables, exit 1', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vault-home-file-')), 'a-file');
    writeFileSync(file, '');
    const r = await vault(['start', 'gateway-sandbox'], { DATABASE_URL: '', VAULT_HOME: join(file, 'home') });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /embedded PostgreSQL on port \d+ \(EMBEDDED_PG_PORT\), under \S+ \(VAULT_HOME\) did not start: ENOTDIR/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack');
  });

  test('`vault start` on SIGHUP (its terminal closed) stops its apps as on Ctrl-C and exits 0', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const { child, out, exited } = startVault(['start', 'gateway-sandbox'], {
      ...process.env,
      DATABASE_URL: db.url,
      GATEWAY_PORT: String(port),
    });
    await eventually('the sandbox to listen', () => out().includes('event=app.listening'));
    // A closed terminal often signals twice (the shell, then the kernel): the second must not cut the stop short.
    // It is sent while the stop runs (the app told to stop, not yet gone): a fixed wait could land after
    // the stop, in Node's exit, where a signal has its default action again.
    const told = new Promise<void>((resolve) => {
      const seen = () => {
        if (!out().includes('event=app.stopping')) return;
        child.stdout.off('data', seen);
        resolve();
      };
      child.stdout.on('data', seen);
    });
    child.kill('SIGHUP');
    await told;
    child.kill('SIGHUP');
    assert.equal(await exited, 0, out());
    assert.match(out(), /gateway-sandbox +\| .*event=app\.stopped/);
  });

  test('`vault start` killed with SIGKILL (no chance to stop its apps): each app sees its channel close and stops, freeing its port', {
    timeout: 90_000,
  }, async () => {
    const port = await freePort();
    // The sandbox says nothing while idle: no log write fails to tell it its reader is gone.
    const { child, out } = startVault(['start', 'gateway-sandbox'], { ...process.env, DATABASE_URL: db.url, GATEWAY_PORT: String(port) });
    await eventually('the sandbox to listen', () => out().includes('event=app.listening'));
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    child.kill('SIGKILL');
    // The orphan held the port (and the bus's partitions) until its next log write failed, if ever.
    // Probed by a bare TCP connection: a request would be logged, and that write would tell it.
    const listening = () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    await eventually('the orphaned app to stop', async () => !(await listening()), 30_000);
  });

  test('`vault start metering` in development (no DATABASE_URL, no ADMIN_TOKEN): one admin token in VAULT_HOME, its path logged, never its value', {
    timeout: 120_000,
  }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'vault-dev-admin-'));
    // The embedded PostgreSQL runs as its own user when we are root: it must reach its directory.
    chmodSync(home, 0o755);
    const [pgPort, port] = [await freePort(), await freePort()];
    const { ADMIN_TOKEN: _admin, DATABASE_URL: _database, ...inherited } = process.env;
    const env = { ...inherited, VAULT_HOME: home, EMBEDDED_PG_PORT: String(pgPort), METERING_PORT: String(port), KAFKA_BROKERS: '' };
    const file = join(home, 'admin_token');
    try {
      for (const event of ['generated', 'development']) {
        const child = spawn(process.execPath, ['bin/vault.js', 'start', 'metering'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
        let token = '';
        try {
          await eventually('metering to listen', () => out.includes('event=app.listening'), 90_000).catch((err: Error) => {
            throw new Error(`${err.message}:\n${out}`);
          });
          token = readFileSync(file, 'utf8').trim();
          const stats = (bearer: string) => fetch(`http://127.0.0.1:${port}/v1/stats`, { headers: { authorization: `Bearer ${bearer}` } });
          assert.equal((await stats(token)).status, 200, 'the file holds the admin token metering took');
          assert.equal((await stats(`${token}x`)).status, 401);
        } finally {
          child.kill('SIGINT');
        }
        assert.equal(await exited, 0, out);
        assert.ok(token.length >= 32);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        assert.match(out, new RegExp(`app=vault at=info event=admin_token\\.${event} path=\\S*admin_token`), out);
        assert.ok(!out.includes(token), `the token is never printed:\n${out}`);
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
