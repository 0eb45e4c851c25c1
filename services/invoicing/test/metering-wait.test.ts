// The invoicing process started before metering has migrated (an upgrade from before
// metering 018, or `vault start` and compose starting both at once): its loops read
// metering's views at once and failed (`invoicing.usage_fold_failed error="relation
// \"metering.usage_changes\" does not exist"` on a fresh database), or read a missing
// usage horizon as no usage. Now it waits at boot, saying what for, and goes on once
// metering's schema is at METERING_NEEDED.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { migrate } from '@vault/db';
import {
  collectLines,
  eventually,
  freePort,
  freshDatabase,
  migrateApps,
  TEST_GATEWAY_PUBLISHABLE_KEY,
  TEST_GATEWAY_SECRET_KEY,
  type TestDatabase,
} from '@vault/testkit';
import { METERING_NEEDED } from '../src/billing/metering-schema.ts';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { METERING_MIGRATIONS } from './seed.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** What invoicing's loops logged when they read a view metering had not made yet. */
const READ_TOO_EARLY = /relation \\"metering\.|usage_fold_failed|schedule_failed/;

describe('the invoicing process on a database whose metering is migrated only to 017 (real PostgreSQL, as a process)', () => {
  let db: TestDatabase;
  let older: string;
  let child: ReturnType<typeof spawn> | undefined;
  const lines: string[] = [];
  before(async () => {
    older = await mkdtemp(join(tmpdir(), 'metering-017-'));
    for (const file of await readdir(METERING_MIGRATIONS)) {
      if (/^\d+_/.test(file) && file < '018_') await cp(join(METERING_MIGRATIONS, file), join(older, file));
    }
    db = await freshDatabase('metering_wait');
    await migrate(db.pool, 'metering', older);
    // The card form's tables, which charging reads, as a deployment has them.
    await migrateApps(db, 'cc-forms');
    await ensureInvoicingSchema(db.pool);
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child!.once('exit', resolve));
    }
    await db?.drop();
    await rm(older, { recursive: true, force: true });
  });

  test('it waits at boot, saying for what, reading nothing of metering; once metering migrates it listens and its loops run clean', async () => {
    const port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'services/invoicing/src/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        ADMIN_TOKEN: 'metering-wait-admin-token-0123456789abcdef',
        INVOICING_PORT: String(port),
        HOST: '127.0.0.1',
        GATEWAY_URL: 'http://127.0.0.1:9',
        GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
        GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
        GATEWAY_WEBHOOK_SECRET: 'whsec_metering_wait',
        KAFKA_BROKERS: '',
        CHARGE_EVERY_SECONDS: '3600',
        WEBHOOK_CATCH_UP_EVERY_SECONDS: '3600',
        INVOICE_FINALIZE_EVERY_SECONDS: '1',
        USAGE_FOLD_EVERY_SECONDS: '0.2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    collectLines(child, lines);
    const said = () => lines.join('\n');
    await eventually('the waiting line', () => lines.some((l) => l.includes('event=invoicing.waiting_for_metering')), 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}:\n${said()}`);
      },
    );
    const waiting = lines.find((l) => l.includes('event=invoicing.waiting_for_metering'))!;
    assert.match(waiting, new RegExp(`at=warn event=invoicing\\.waiting_for_metering needs=${METERING_NEEDED} has=017_\\w+\\.sql`));
    assert.match(waiting, /start metering on the same DATABASE_URL/);
    // Long enough for the loops' first ticks (fold every 0.2 s, the schedule after 1 s), had they started.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(child.exitCode, null, said());
    assert.ok(!lines.some((l) => l.includes('event=app.listening')), `not serving before metering has migrated:\n${said()}`);
    assert.doesNotMatch(said(), READ_TOO_EARLY);

    await migrate(db.pool, 'metering', METERING_MIGRATIONS);
    await eventually('invoicing to listen', () => lines.some((l) => l.includes('event=app.listening')), 30_000).catch((err: Error) => {
      throw new Error(`${err.message}:\n${said()}`);
    });
    assert.match(said(), /event=invoicing\.metering_ready migration=\d+_\w+\.sql waited_s=\d+/);
    // Its schedule completes ticks (it read metering's views), and nothing failed for want of them.
    await eventually('a schedule tick', () => lines.some((l) => l.includes('event=invoicing.schedule_tick')), 20_000);
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    assert.doesNotMatch(said(), READ_TOO_EARLY);
  });
});
