// Ctrl-C while `npm start` loads its demo, as a terminal sends it: SIGINT to the whole
// process group, the embedded PostgreSQL and every app included. A stop the user asked
// for is logged as a stop (info), never as an error: neither the demo's step nor
// metering's batch cut short by the database going down is a failure (the next start
// resumes the demo with the same events), and the tree exits 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectLines, eventually, freePort } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('Ctrl-C during the first demo load', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let pgid: number | undefined;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'vault-demo-ctrl-c-'));
    // The embedded PostgreSQL runs as its own user when we are root: it must reach its directory.
    chmodSync(home, 0o755);
    const [pg, metering, invoicing, ccForms, gateway] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    const { DATABASE_URL: _d, ADMIN_TOKEN: _a, KAFKA_BROKERS: _k, ...inherited } = process.env;
    env = {
      ...inherited,
      VAULT_HOME: home,
      EMBEDDED_PG_PORT: String(pg),
      METERING_PORT: String(metering),
      INVOICING_PORT: String(invoicing),
      CC_FORMS_PORT: String(ccForms),
      GATEWAY_PORT: String(gateway),
    };
  });
  after(() => {
    if (pgid !== undefined) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {}
    }
    rmSync(home, { recursive: true, force: true });
  });

  test('while metering applies the demo events: every process stops, exit 0, and no line is an error', { timeout: 120_000 }, async () => {
    // Its own process group, as a terminal's job.
    const child = spawn(process.execPath, ['bin/vault.js', 'start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    pgid = child.pid!;
    const lines: string[] = [];
    collectLines(child, lines);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Half the events published: metering is applying batches, the demo is publishing more.
    const loading = () => lines.some((l) => /event=simulate\.progress label="demo events" .*percent=50/.test(l));
    await eventually('the demo to be half loaded', () => loading() || child.exitCode !== null, 90_000);
    assert.ok(loading(), lines.join('\n'));

    process.kill(-pgid, 'SIGINT');
    assert.equal(await exited, 0, lines.join('\n'));
    const errors = lines.filter((l) => /\bat=error\b/.test(l));
    assert.deepEqual(errors, [], lines.join('\n'));
    // Nor the bus's warning: the consumer's failure on the way down is the stop's (bus.consumer_interrupted, info).
    assert.deepEqual(
      lines.filter((l) => /\bevent=bus\.consumer_error\b/.test(l)),
      [],
      lines.join('\n'),
    );
    assert.ok(!lines.some((l) => l.includes('sign in to the invoice UI')), 'stopped before the demo was loaded');
  });
});
