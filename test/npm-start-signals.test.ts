// `npm start` stopped as a supervisor, `timeout` or a shell stops it: a signal to npm's
// own process (SIGTERM, SIGINT, SIGHUP) stops the whole tree (`vault start`, its apps,
// the embedded PostgreSQL) and frees every port. Before, npm and its `sh -c` exited and
// `vault start` ran on as an orphan, holding the ports the next `npm start` needed.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectLines, eventually, freePort } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const APPS = ['gateway-sandbox', 'metering', 'invoicing', 'cc-forms'];

/** The live processes of process group `pgid`: npm, started as its leader, and everything under it. */
function groupMembers(pgid: number): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, group, stat]) => Number(group) === pgid && !stat?.startsWith('Z'))
    .map((fields) => `${fields[0]} ${fields.slice(3).join(' ')}`);
}

/** Whether something accepts connections on the port (a bare TCP connect: nothing is logged). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('`npm start` stops its whole tree when npm gets a stop signal', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let ports: number[];
  const groups: number[] = [];

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'vault-npm-start-'));
    // The embedded PostgreSQL runs as its own user when we are root: it must reach its directory.
    chmodSync(home, 0o755);
    ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    const [pg, metering, invoicing, ccForms, gateway] = ports.map(String);
    // A fresh clone's `npm start`: the embedded PostgreSQL and bus, development's admin token.
    const { DATABASE_URL: _d, ADMIN_TOKEN: _a, KAFKA_BROKERS: _k, ...inherited } = process.env;
    env = {
      ...inherited,
      VAULT_HOME: home,
      EMBEDDED_PG_PORT: pg,
      METERING_PORT: metering,
      INVOICING_PORT: invoicing,
      CC_FORMS_PORT: ccForms,
      GATEWAY_PORT: gateway,
    };
  });
  after(() => {
    // Whatever a failed test left running.
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {}
    }
    rmSync(home, { recursive: true, force: true });
  });

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    test(`${signal} to npm's pid: vault start, every app and the embedded PostgreSQL exit, and every port is free`, {
      timeout: 120_000,
    }, async () => {
      // Its own process group, as a terminal's job: the tree's every process is found by it.
      const npm = spawn('npm', ['start', '--', '--no-demo'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      groups.push(npm.pid!);
      const lines: string[] = [];
      collectLines(npm, lines);
      const ready = () => APPS.every((app) => lines.some((l) => l.startsWith('vault ') && l.includes(` ${app} `) && l.includes('http://')));
      await eventually('every app to listen', () => ready() || npm.exitCode !== null, 90_000);
      assert.ok(ready(), lines.join('\n'));

      npm.kill(signal);
      await eventually('npm to exit', () => npm.exitCode !== null || npm.signalCode !== null, 30_000);
      // npm forwards SIGTERM and SIGINT to its script, `exec`ed into `vault start`, and waits for it:
      // once npm has exited, so has the tree (a supervisor's wait means it). SIGHUP ends npm at once.
      if (signal !== 'SIGHUP') assert.deepEqual(groupMembers(npm.pid!), [], `npm exited before its tree:\n${lines.join('\n')}`);
      await eventually('every process of the tree to exit', () => groupMembers(npm.pid!).length === 0, 30_000).catch(() => {
        assert.deepEqual(groupMembers(npm.pid!), [], `left running after ${signal} to npm:\n${lines.join('\n')}`);
      });
      for (const port of ports) assert.equal(await listening(port), false, `nothing listens on ${port} any more`);
      assert.ok(
        lines.some((l) => /event=app\.exited process=invoicing code=0/.test(l)),
        `the apps were stopped, not killed:\n${lines.join('\n')}`,
      );
    });
  }
});
