// Issue 19: invoice lines partitioned by month (migration 014), the month's
// usage aggregates (012), the invoices' apps (013) and the emails' check of
// their notice (015), the partitions written directly by finalize only (016) —
// on a database that already holds data when they run, and for what finalize
// writes after them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { databaseBeforeMigration } from './seed.ts';

describe('invoice lines by month, the month aggregates and the invoices’ apps, migrated over existing data', () => {
  let db: TestDatabase;
  let older: Awaited<ReturnType<typeof databaseBeforeMigration>> | undefined;

  before(async () => {
    // Invoicing as it was before migration 012.
    const made = await databaseBeforeMigration('lines_by_month', '012');
    older = made;
    db = made.db;
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, finalized_at) values
         ('inv-sep', 'acct-1', '2026-09', '2026-09-01Z', '2026-10-01Z', '2026-09-000001', 'USD', 7.00, '2026-10-04Z'),
         ('inv-oct', 'acct-1', '2026-10', '2026-10-01Z', '2026-11-01Z', '2026-10-000001', 'USD', 32.00, '2026-11-04Z')`,
    );
    await db.pool.query(
      `insert into invoicing.invoice_lines (invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, ms) values
         ('inv-sep', 1, 'shop', 'dyno', 'web.1', 'dyno:basic', 1, 7.00, 7.00, 'web.1 basic', 2592000000),
         ('inv-oct', 1, 'shop', 'dyno', 'web.1', 'dyno:basic', 1, 7.00, 7.00, 'web.1 basic', 2678400000),
         ('inv-oct', 2, 'blog', 'dyno', 'web.1', 'dyno:standard-1x', 1, 25.00, 25.00, 'web.1 standard-1x', 2678400000)`,
    );
    await db.pool.query(
      `insert into invoicing.usage_days (account_id, day, app_id, kind, key, product, ms) values
         ('acct-1', '2026-10-30Z', 'shop', 'dyno', 'web.1', 'dyno:basic', 86400000),
         ('acct-1', '2026-10-31Z', 'shop', 'dyno', 'web.1', 'dyno:basic', 3600000),
         ('acct-1', '2026-11-01Z', 'shop', 'dyno', 'web.1', 'dyno:basic', 1000)`,
    );
    await made.migrateRest();
  });
  after(async () => {
    await older?.drop();
  });

  test('every line is kept, in the partition of its invoice’s month, found by its number', async () => {
    const { rows } = await db.pool.query<{ part: string; invoice_number: string; invoice_id: string; position: number; amount: string }>(
      `select tableoid::regclass::text as part, invoice_number, invoice_id, position, amount::text
         from invoicing.invoice_lines order by invoice_number, position`,
    );
    assert.deepEqual(rows, [
      { part: 'invoicing.invoice_lines_2026_09', invoice_number: '2026-09-000001', invoice_id: 'inv-sep', position: 1, amount: '7.00' },
      { part: 'invoicing.invoice_lines_2026_10', invoice_number: '2026-10-000001', invoice_id: 'inv-oct', position: 1, amount: '7.00' },
      { part: 'invoicing.invoice_lines_2026_10', invoice_number: '2026-10-000001', invoice_id: 'inv-oct', position: 2, amount: '25.00' },
    ]);
  });

  test('the month aggregates are the days summed per UTC month; the invoices’ apps are their lines’', async () => {
    const months = await db.pool.query(
      `select month::date::text as month, app_id, ms::text from invoicing.usage_months order by month, app_id`,
    );
    assert.deepEqual(months.rows, [
      { month: '2026-10-01', app_id: 'shop', ms: '90000000' },
      { month: '2026-11-01', app_id: 'shop', ms: '1000' },
    ]);
    const apps = await db.pool.query(`select app_id, invoice_id from invoicing.invoice_apps order by invoice_id, app_id`);
    assert.deepEqual(apps.rows, [
      { app_id: 'blog', invoice_id: 'inv-oct' },
      { app_id: 'shop', invoice_id: 'inv-oct' },
      { app_id: 'shop', invoice_id: 'inv-sep' },
    ]);
  });

  test('a line must name its invoice with that invoice’s number; a month without its partition refuses lines', async () => {
    await assert.rejects(
      db.pool.query(
        `insert into invoicing.invoice_lines (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, description, ms)
         values ('2026-10-000002', 'inv-oct', 9, 'shop', 'dyno', 'web.2', 'dyno:basic', 1, 'x', 0)`,
      ),
      /invoice inv-oct numbered 2026-10-000002 does not exist/,
    );
    await assert.rejects(
      db.pool.query(
        `insert into invoicing.invoice_lines (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, description, ms)
         values ('2027-01-000001', 'inv-jan', 1, 'shop', 'dyno', 'web.2', 'dyno:basic', 1, 'x', 0)`,
      ),
      /no partition of relation "invoice_lines" found for row/,
    );
    await assert.rejects(db.pool.query(`select invoicing.ensure_lines_month('2026-13')`), /month must be YYYY-MM, got 2026-13/);
  });

  test('a month’s partition refuses lines written to it directly, unless the transaction keeps their checks itself (finalize)', async () => {
    await db.pool.query(`select invoicing.ensure_lines_month('2026-12')`);
    const direct = (part: string, number: string) =>
      `insert into invoicing.${part} (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, description, ms)
       values ('${number}', 'inv-none', 1, 'shop', 'dyno', 'web.2', 'dyno:basic', 1, 'x', 0)`;
    // One migrated over an existing month, one made by ensure_lines_month since.
    for (const [part, number] of [
      ['invoice_lines_2026_10', '2026-10-000009'],
      ['invoice_lines_2026_12', '2026-12-000001'],
    ] as const) {
      await assert.rejects(
        db.pool.query(direct(part, number)),
        new RegExp(`insert into invoicing.${part} refused: invoice lines are written through invoicing.invoice_lines`),
      );
    }
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('invoicing.lines_kept_by', 'finalize', true)`);
      await client.query(direct('invoice_lines_2026_12', '2026-12-000001'));
      const { rows } = await client.query(`select count(*)::int as n from invoicing.invoice_lines where invoice_number = '2026-12-000001'`);
      assert.equal(rows[0].n, 1, 'finalize’s transaction writes the partition');
    } finally {
      await client.query('rollback');
      client.release();
    }
  });

  test('a month’s partition is created once, and can be detached whole while the other months stay readable', async () => {
    await db.pool.query(`select invoicing.ensure_lines_month('2026-11')`);
    await db.pool.query(`select invoicing.ensure_lines_month('2026-11')`);
    const parts = await db.pool.query<{ name: string }>(
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'invoicing.invoice_lines'::regclass order by 1`,
    );
    assert.deepEqual(
      parts.rows.map((r) => r.name),
      ['invoice_lines_2026_09', 'invoice_lines_2026_10', 'invoice_lines_2026_11', 'invoice_lines_2026_12'],
    );
    await db.pool.query('alter table invoicing.invoice_lines detach partition invoicing.invoice_lines_2026_09');
    const left = await db.pool.query(`select invoice_number from invoicing.invoice_lines order by 1`);
    assert.deepEqual(
      left.rows.map((r) => r.invoice_number),
      ['2026-10-000001', '2026-10-000001'],
    );
    const detached = await db.pool.query(`select count(*)::int as n from invoicing.invoice_lines_2026_09`);
    assert.equal(detached.rows[0].n, 1, 'the detached month keeps its lines');
    await assert.rejects(
      db.pool.query(`select invoicing.ensure_lines_month('2026-09')`),
      /table invoice_lines_2026_09 exists but is not a partition of invoice_lines/,
    );
  });

  test('a fold written before migration 012 (days without their month) is refused, so its changes stay queued', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      // Past migration 017's check that the fold keeps its tables too (usage-running-migration.test.ts), to reach 012's.
      await client.query(`select set_config('invoicing.fold_keeps', 'running and unowned', true)`);
      await assert.rejects(
        client.query(
          `insert into invoicing.usage_days (account_id, day, app_id, kind, key, product, ms)
           values ('acct-1', '2026-10-05Z', 'shop', 'dyno', 'web.1', 'dyno:basic', 1000)`,
        ),
        /null value in column "month"/,
      );
    } finally {
      await client.query('rollback');
      client.release();
    }
  });

  test('an email must name a notice that exists, and a notice keeps its id', async () => {
    await assert.rejects(
      db.pool.query(`insert into invoicing.email_deliveries (notice_id, account_id) values ('ntc-missing', 'acct-1')`),
      /violates its notice check: notice ntc-missing does not exist/,
    );
    await db.pool.query(
      `insert into invoicing.notices (id, type, account_id, event) values ('ntc-1', 'invoice.finalized', 'acct-1', '{}')`,
    );
    await db.pool.query(`insert into invoicing.email_deliveries (notice_id, account_id) values ('ntc-1', 'acct-1')`);
    await assert.rejects(db.pool.query(`update invoicing.notices set id = 'ntc-2' where id = 'ntc-1'`), /never changes/);
    await assert.rejects(
      db.pool.query(`update invoicing.email_deliveries set notice_id = 'ntc-missing' where notice_id = 'ntc-1'`),
      /never changes/,
    );
  });
});
