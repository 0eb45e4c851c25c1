// `vault start` launched the four apps at once, so on a fresh database invoicing's loops
// read metering's views before metering had made them (the clean-clone CI log:
// `invoicing.usage_fold_failed error="relation \"metering.usage_changes\" does not exist"`).
// Invoicing now starts once metering listens, so after metering's migrations; invoicing
// would otherwise wait for them itself (services/invoicing/test/metering-wait.test.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { collectLines, eventually, freePort, freshDatabase, type TestDatabase } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('`vault start` (all four apps, no demo) on a fresh database', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('start_order');
  });
  after(() => db?.drop());

  test("invoicing starts once metering listens (migrated): while metering's migrations run it is not started; then it never waits, and no loop reads a view before it exists", {
    timeout: 180_000,
  }, async () => {
    // Metering's migrations held up (their advisory lock, packages/db's migrate), as a long upgrade's would be.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query(`select pg_advisory_lock(hashtext('migrate:metering'))`);
    const [invoicing, metering, ccForms, gateway] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const child = spawn(process.execPath, ['bin/vault.js', 'start', '--no-demo'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        VAULT_HOME: mkdtempSync(join(tmpdir(), 'vault-start-order-')),
        ADMIN_TOKEN: 'start-order-admin-token-0123456789abcdef',
        KAFKA_BROKERS: '',
        INVOICING_PORT: String(invoicing),
        METERING_PORT: String(metering),
        CC_FORMS_PORT: String(ccForms),
        GATEWAY_PORT: String(gateway),
        INVOICING_URL: `http://localhost:${invoicing}`,
        USAGE_FOLD_EVERY_SECONDS: '0.2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    collectLines(child, lines);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const listens = (app: string) => lines.some((l) => l.startsWith(`${app} `) && l.includes('event=app.listening'));
      await eventually(
        'the sandbox and the card form listening',
        () => (listens('gateway-sandbox') && listens('cc-forms')) || child.exitCode !== null,
        90_000,
      );
      // Time enough for invoicing to boot and say it waits, had it been started beside metering.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      assert.ok(!listens('metering'), lines.join('\n'));
      assert.deepEqual(
        lines.filter((l) => l.startsWith('invoicing ')),
        [],
        'invoicing is not started while metering migrates',
      );
      await holder.end();
      const urlLine = (app: string) => lines.some((l) => l.startsWith('vault ') && l.includes(` ${app} `) && l.includes('http://'));
      await eventually('every app listening', () => urlLine('invoicing') || child.exitCode !== null, 150_000);
      assert.ok(urlLine('invoicing'), lines.join('\n'));
      // A few of the fold's ticks (every 0.2 s) and the schedule's first (after 1 s).
      await eventually('a schedule tick', () => lines.some((l) => l.includes('event=invoicing.schedule_tick')), 20_000);
      const meteringListens = lines.findIndex((l) => l.startsWith('metering ') && l.includes('event=app.listening'));
      const invoicingFirst = lines.findIndex((l) => l.startsWith('invoicing '));
      assert.ok(meteringListens >= 0, lines.join('\n'));
      assert.ok(invoicingFirst > meteringListens, `invoicing's first line comes after metering listens:\n${lines.join('\n')}`);
      const all = lines.join('\n');
      assert.doesNotMatch(all, /invoicing\.waiting_for_metering|relation \\"metering\.|usage_fold_failed|schedule_failed/);
    } finally {
      await holder.end().catch(() => {});
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, lines.join('\n'));
  });
});
