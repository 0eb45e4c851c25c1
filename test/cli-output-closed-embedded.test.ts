// `vault export --period 2026-11 invoices 2>&1 | head -1` exited 1 and left the embedded
// PostgreSQL it had started running, its parent gone, every time: the summary's write to
// the closed stderr threw (EPIPE) before the command's `finally` stopped the server. A
// closed stdout did the same to every command that opens the database (`vault token list`,
// `vault migrate`, `vault start`): they exited at once. Now stderr's errors are ignored and
// an early end lets go of the database first (scripts/cli/early-exit.ts); `vault start`
// stops its apps as on Ctrl-C. Each case: the server is down after the command exits.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Whether something accepts connections on the port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `vault …args` with `closed` destroyed at once (its reader gone before the first write). */
function run(args: string[], env: NodeJS.ProcessEnv, closed?: 'stdout' | 'stderr'): Promise<Run> {
  const child = spawn(process.execPath, ['bin/vault.js', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  for (const name of ['stdout', 'stderr'] as const) {
    if (name === closed) child[name].destroy();
    else child[name].setEncoding('utf8').on('data', (d: string) => (out[name] += d));
  }
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, ...out })));
}

/** A shell pipeline's first command's exit status and what `head -1` printed. */
function shell(line: string, env: NodeJS.ProcessEnv): Promise<{ status: number; printed: string }> {
  const child = spawn('bash', ['-c', `${line}; exit \${PIPESTATUS[0]}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let printed = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (printed += d));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status: status ?? -1, printed })));
}

describe('a `vault` command whose stdout or stderr reader is gone stops the embedded PostgreSQL it started', () => {
  let home: string;
  let pgPort: number;
  let env: NodeJS.ProcessEnv;
  const serverDown = async (what: string) => {
    assert.equal(await listening(pgPort), false, `${what}: the embedded PostgreSQL still listens on ${pgPort}`);
    assert.equal(existsSync(join(home, 'postgres', 'data', 'postmaster.pid')), false, `${what}: postmaster.pid left behind`);
  };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'vault-closed-output-'));
    // The embedded PostgreSQL runs as its own user when we are root: it must reach its directory.
    chmodSync(home, 0o755);
    pgPort = await freePort();
    const { DATABASE_URL: _d, ADMIN_TOKEN: _a, ...inherited } = process.env;
    env = { ...inherited, VAULT_HOME: home, EMBEDDED_PG_PORT: String(pgPort), KAFKA_BROKERS: '', INVOICING_PORT: String(await freePort()) };
    // Initialised once, every schema there (an export reads metering's views).
    const migrated = await run(['migrate'], env);
    assert.equal(migrated.status, 0, migrated.stderr + migrated.stdout);
    await serverDown('vault migrate');
  });
  after(async () => {
    // A server a failing case left running would hold the directory: stop it by its own pid file.
    if (existsSync(join(home, 'postgres', 'data', 'postmaster.pid'))) {
      await new Promise((resolve) =>
        spawn('bash', ['-c', `kill $(head -1 ${join(home, 'postgres', 'data', 'postmaster.pid')})`]).on('close', resolve),
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    rmSync(home, { recursive: true, force: true });
  });

  test('`vault export … 2>&1 | head -1` (stderr and stdout gone after one line): exit 1, the server stopped', {
    timeout: 60_000,
  }, async () => {
    const r = await shell('node bin/vault.js export --period 2026-01 invoices 2>&1 | head -1', env);
    assert.equal(r.status, 1, r.printed);
    assert.match(r.printed, /^app=vault at=info event=postgres\.started /);
    await serverDown('export 2>&1 | head -1');
  });

  test('`vault publish - | head -1` prints its summary, the embedded server’s start line on stderr: exit 0, every event published, the server stopped', {
    timeout: 60_000,
  }, async () => {
    const event = (n: number) =>
      JSON.stringify({
        specversion: '1.0',
        id: `closed-pub-${n}`,
        source: 'dyno-manager',
        type: 'dyno.started',
        time: '2026-01-05T10:00:00Z',
        subject: `dyno-closed-${n}`,
        sequence: 1,
        data: { app_id: 'app-closed', name: `web.${n}`, size: 'standard-1x' },
      });
    const lines = [1, 2, 3].map(event).join('\n');
    const r = await shell(`printf '%s\\n' '${lines}' | node bin/vault.js publish - | head -1`, env);
    assert.equal(r.status, 0, r.printed);
    assert.match(r.printed, /^published 3 lines to .*: 3 accepted, 0 duplicate, 0 rejected /);
    await serverDown('publish | head -1');
  });

  test('stderr alone closed: `vault export` writes its CSV and exits 0 (its summary lost, not its run), the server stopped', {
    timeout: 60_000,
  }, async () => {
    const r = await run(['export', 'invoices', '--period', '2026-01'], env, 'stderr');
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /\r\nTOTAL,0,/);
    await serverDown('export with stderr closed');
  });

  test('stdout closed (its first write is the server’s start line): `token list`, `migrate`, `export`: one line, exit 1, the server stopped', {
    timeout: 120_000,
  }, async () => {
    for (const args of [['token', 'list'], ['migrate'], ['export', 'invoices', '--period', '2026-01']]) {
      const r = await run(args, { ...env, INVOICING_PORT: String(await freePort()) }, 'stdout');
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /node:events|Unhandled 'error' event|^\s+at /m, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^vault ${args.slice(0, args[0] === 'token' ? 2 : 1).join(' ')}: stdout was closed`, 'm'),
        r.stderr,
      );
      await serverDown(args.join(' '));
    }
  });

  test('`vault start metering` with stdout closed: its app stopped as on Ctrl-C, exit 1, the server stopped', {
    timeout: 90_000,
  }, async () => {
    const port = await freePort();
    const r = await run(['start', 'metering'], { ...env, METERING_PORT: String(port) }, 'stdout');
    assert.equal(r.status, 1, r.stderr);
    await serverDown('start metering');
    assert.equal(await listening(port), false, 'metering is not left running');
    assert.match(r.stderr, /^vault start: stdout was closed: stopping the apps$/m);
  });
});
