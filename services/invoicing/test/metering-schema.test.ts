// Invoicing before metering's migrations (an upgrade from before metering 018 or 022,
// invoicing booting first): metering.billable_horizon missing read as "no usage", so a
// due month no run had finalized exported as a header and a zero control row, and
// late usage failed on metering.billable_vanished. Now what reads metering's views
// refuses (MeteringNotReadyError) until metering's schema is at METERING_NEEDED, and
// the app waits for it at boot (metering-wait.test.ts).
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { migrate } from '@vault/db';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { firstBillableMonth } from '../src/billing/final-months.ts';
import { METERING_NEEDED, MeteringNotReadyError, meteringMigration, waitForMetering } from '../src/billing/metering-schema.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { dueMonths } from '../src/billing/schedule.ts';
import { createBilling } from '../src/billing/service.ts';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { exportCsv } from '../src/exports/index.ts';
import { METERING_MIGRATIONS, seedOwners, seedUsage } from './seed.ts';

const ADMIN = 'metering-schema-admin-0123456789abcdef';
const NOW = new Date('2027-01-10T00:00:00Z');
const prices = loadPriceBook();

async function exported(db: TestDatabase, period: string): Promise<string[]> {
  let text = '';
  for await (const chunk of exportCsv(db.pool, 'invoices', period, { graceHours: 72, now: () => NOW })) text += chunk;
  return text.trimEnd().split('\r\n');
}

/** Every way invoicing reads metering, refused alike, naming what it found and what it needs. */
async function refusesAll(db: TestDatabase, found: RegExp): Promise<void> {
  const refused = (err: unknown) => {
    assert.ok(err instanceof MeteringNotReadyError, String(err));
    assert.match(err.message, found);
    assert.match(err.message, new RegExp(`migrations up to ${METERING_NEEDED}`));
    return true;
  };
  await assert.rejects(firstBillableMonth(db.pool), refused);
  await assert.rejects(dueMonths(db.pool, 72, DateTime.fromJSDate(NOW, { zone: 'utc' })), refused);
  // A due month no run finalized: not an empty file (a header and TOTAL,0,…), whatever month.
  for (const period of ['2026-06', '2026-11']) await assert.rejects(exported(db, period), refused);
  const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => DateTime.fromJSDate(NOW, { zone: 'utc' }) });
  await assert.rejects(billing.finalize('2026-11'), refused);
  // Finance's route: 503 saying why, with Retry-After, never a 200 of an empty month or a 500.
  const http = createHttpApp(memoryLogger());
  invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken: ADMIN, log: memoryLogger() });
  try {
    const res = await http.inject({ url: '/v1/exports/invoices.csv?period=2026-06', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.headers['retry-after'], '30');
    assert.match(res.json<{ error: string }>().error, found);
  } finally {
    await http.close();
  }
}

describe("invoicing reads nothing of metering's before its migrations are there (real PostgreSQL)", () => {
  let older: string;
  before(async () => {
    // Metering as an upgrade finds it: migrated up to 017 (before billable_horizon, 018, and billable_vanished, 022).
    older = await mkdtemp(join(tmpdir(), 'metering-017-'));
    for (const file of await readdir(METERING_MIGRATIONS)) {
      if (/^\d+_/.test(file) && file < '018_') await cp(join(METERING_MIGRATIONS, file), join(older, file));
    }
  });
  after(() => rm(older, { recursive: true, force: true }));

  test('METERING_NEEDED is a metering migration, and no later one changes a view invoicing reads (raise it with one that does)', async () => {
    const files = (await readdir(METERING_MIGRATIONS)).filter((f) => /^\d+_.*\.sql$/.test(f));
    assert.ok(files.includes(METERING_NEEDED), METERING_NEEDED);
    for (const file of files.filter((f) => f > METERING_NEEDED)) {
      // Comments and an index of a table change nothing invoicing reads (026: BRIN on learned_at).
      const sql = (await readFile(join(METERING_MIGRATIONS, file), 'utf8'))
        .replace(/--.*$/gm, '')
        .replace(/^\s*create index\b[^;]*;/gim, '');
      assert.doesNotMatch(sql, /\b(billable_\w+|usage_changes|settled_usage|unreliable_apps)\b/, `${file} touches what invoicing reads`);
    }
  });

  describe('metering not in the database at all', () => {
    let db: TestDatabase;
    before(async () => {
      db = await freshDatabase('no_metering');
      await ensureInvoicingSchema(db.pool);
    });
    after(() => db?.drop());

    test('every read of its views is refused naming what is missing: no due month exported empty, no finalize, no schedule', async () => {
      assert.equal(await meteringMigration(db.pool), undefined);
      await refusesAll(db, /^metering's schema is not in this database/);
    });

    test('the boot waits for ever, saying so every logEveryMs (30 s in the app), until metering has migrated', async () => {
      const log = memoryLogger();
      const wait = waitForMetering(db.pool, { log, pollMs: 20, logEveryMs: 100 });
      await new Promise((resolve) => setTimeout(resolve, 450));
      const said = log.lines.filter((l) => l.includes('event=invoicing.waiting_for_metering'));
      assert.ok(said.length >= 3, log.lines.join('\n'));
      for (const line of said)
        assert.match(line, new RegExp(`needs=${METERING_NEEDED} has=none waited_s=\\d+ reason="metering's schema is not in this database`));
      await migrate(db.pool, 'metering', METERING_MIGRATIONS);
      await wait;
    });
  });

  describe('metering migrated only to 017 (an upgrade from before 018), then the rest', () => {
    let db: TestDatabase;
    before(async () => {
      db = await freshDatabase('metering_017');
      await migrate(db.pool, 'metering', older);
      await ensureInvoicingSchema(db.pool);
    });
    after(() => db?.drop());

    test('refused naming migration 017 (it used to read as "no usage", the month exported as a header and zeros); once metering migrates, read', async () => {
      assert.match((await meteringMigration(db.pool)) ?? '', /^017_\w+\.sql$/);
      await refusesAll(db, /^metering's schema in this database is at migration 017_\w+\.sql/);

      // The boot's wait: it says so at once, then returns once metering has migrated the rest.
      const log = memoryLogger();
      let waited = false;
      const wait = waitForMetering(db.pool, { log, pollMs: 20 }).then(() => (waited = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(waited, false, 'no return before metering has migrated');
      const said = log.lines.filter((l) => l.includes('event=invoicing.waiting_for_metering'));
      assert.equal(said.length, 1, log.lines.join('\n'));
      assert.match(said[0]!, /at=warn/);
      assert.match(said[0]!, new RegExp(`needs=${METERING_NEEDED} has=017_\\w+\\.sql`));
      await migrate(db.pool, 'metering', METERING_MIGRATIONS);
      await wait;
      assert.ok(
        log.lines.some((l) => /event=invoicing\.metering_ready migration=\d+_\w+\.sql waited_s=\d+/.test(l)),
        log.lines.join('\n'),
      );

      // Metering's views now read: a month before any usage is empty, one with usage waits for its run.
      await seedOwners(db.pool, [{ app: 'ms-app', account: 'acct-ms', from: '2026-10-01T00:00:00Z' }]);
      await seedUsage(db.pool, [
        { app: 'ms-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z', to: '2026-10-11T00:00:00Z' },
      ]);
      assert.equal((await firstBillableMonth(db.pool))?.key, '2026-10');
      assert.deepEqual((await exported(db, '2026-06')).slice(1), ['TOTAL,0,,,,,0.00,0.00,0.00,0.00,,0,0.00']);
      await assert.rejects(exported(db, '2026-11'), /2026-11 is due but no finalize run has completed for it yet/);
      const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => DateTime.fromJSDate(NOW, { zone: 'utc' }) });
      await billing.finalize('2026-10');
      assert.equal((await exported(db, '2026-10')).length, 3);
    });
  });

  test('waitForMetering returns at once, saying nothing, when metering is already there', async () => {
    const db = await freshDatabase('metering_there');
    try {
      await migrate(db.pool, 'metering', METERING_MIGRATIONS);
      const log = memoryLogger();
      await waitForMetering(db.pool, { log });
      assert.deepEqual(log.lines, []);
    } finally {
      await db.drop();
    }
  });
});
