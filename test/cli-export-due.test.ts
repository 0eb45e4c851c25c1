// `vault export invoices|lines` of a month not due yet (before its end +
// INVOICE_GRACE_HOURS, as `vault finalize` reads it): exit 1 naming the month and
// its due time, nothing on stdout; never a header and `TOTAL,0,…` that look like
// a month with no invoices. A due month with none still exports, exit 0.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { freshDatabase, migrateApps, vault, type TestDatabase } from '@vault/testkit';

describe('vault export of a month not due yet', () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    db = await freshDatabase('cli_export_due');
    // An export migrates nothing (cli-export-readonly.test.ts): invoicing's schema is there, as after `vault migrate`.
    await migrateApps(db, 'invoicing');
    env = { DATABASE_URL: db.url, INVOICING_PORT: '3456' };
  });
  after(() => db.drop());

  test('a month to come, and last month inside a long INVOICE_GRACE_HOURS: exit 1 naming its due time, nothing on stdout', async () => {
    const next = DateTime.utc().plus({ months: 1 }).startOf('month');
    const dueNext = next.plus({ months: 1, hours: 72 }).toJSDate().toISOString();
    for (const kind of ['invoices', 'lines']) {
      const r = await vault(['export', kind, '--period', next.toFormat('yyyy-MM')], env);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.ok(
        r.stderr.includes(
          `${next.toFormat('yyyy-MM')} is not finalized: it is not due until ${dueNext} (its end plus INVOICE_GRACE_HOURS=72)`,
        ),
        r.stderr,
      );
    }
    // Last month has ended; with 40 days of grace it is not due yet.
    const last = DateTime.utc().startOf('month').minus({ months: 1 });
    const due = last.plus({ months: 1, hours: 960 }).toJSDate().toISOString();
    const r = await vault(['export', 'invoices', '--period', last.toFormat('yyyy-MM')], { ...env, INVOICE_GRACE_HOURS: '960' });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.includes(`it is not due until ${due} (its end plus INVOICE_GRACE_HOURS=960)`), r.stderr);
  });

  test("before metering's migrations, a due month no run finalized: exit 1 naming them, nothing on stdout (it was a header and zeros)", async () => {
    const r = await vault(['export', 'invoices', '--period', '2026-06'], env);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /metering's schema is not in this database, and invoicing reads what metering's migrations up to \d+_\w+\.sql publish/,
    );
  });

  test('a due month with no invoices: the header and a control row of 0, exit 0', async () => {
    // Metering's views say it is before any usage: a month with nothing to finalize, ever.
    await migrateApps(db, 'metering');
    const r = await vault(['export', 'invoices', '--period', '2026-06'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\r\nTOTAL,0,,,,USD,0\.00,0\.00,0\.00,0\.00,,0,0\.00\r\n$/);
    assert.match(r.stderr, /invoices\.csv for 2026-06: 0 rows, control total 0\.00 USD/);
  });
});
