// Finance review: `vault export` applied invoicing's migrations (a read-only
// command that writes): with a SELECT-only role it failed "permission denied
// for database", and an operator's newer checkout migrated production under the
// older running app. An export now only reads invoicing.schema_migrations: a
// read-only role exports, and pending migrations are refused naming
// `vault migrate`, applied by nothing. Also: the summary names the currency and
// the month's held accounts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrate } from '@vault/db';
import { freshDatabase, vault, type TestDatabase } from '@vault/testkit';
import { ensureInvoicingSchema } from '../services/invoicing/src/cli/migrations.ts';
import { METERING_MIGRATIONS, seedOwners, seedUsage } from '../services/invoicing/test/seed.ts';

describe("vault export writes nothing but credits.csv's note of its month", () => {
  let db: TestDatabase;
  const role = `finance_ro_${randomBytes(4).toString('hex')}`;
  let readOnlyUrl: string;

  before(async () => {
    db = await freshDatabase('cli_export_ro');
    await migrate(db.pool, 'metering', METERING_MIGRATIONS);
    await ensureInvoicingSchema(db.pool);
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, finalized_at) values
         ('inv-1', 'acct-1', '2026-10', '2026-10-01Z', '2026-11-01Z', '2026-10-000001', 'USD', 21.39, '2026-11-04T00:00:00Z')`,
    );
    // acct-held: October usage of a product without a price, and no invoice: held.
    await seedOwners(db.pool, [{ app: 'held-app', account: 'acct-held', from: '2026-10-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      { app: 'held-app', kind: 'dyno', key: 'web.1', product: 'dyno:quantum-9x', from: '2026-10-03T00:00:00Z', to: '2026-10-05T00:00:00Z' },
    ]);
    const { rows } = await db.pool.query<{ db: string }>('select current_database() as db');
    const database = rows[0]!.db;
    await db.pool.query(`create role ${role} login password 'ro-secret'`);
    await db.pool.query(`grant connect on database ${database} to ${role}`);
    await db.pool.query(`grant usage on schema invoicing, metering to ${role}`);
    await db.pool.query(`grant select on all tables in schema invoicing, metering to ${role}`);
    const url = new URL(db.url);
    url.username = role;
    url.password = 'ro-secret';
    readOnlyUrl = url.toString();
  });
  after(async () => {
    await db.drop();
    // A role is the server's, not the database's: dropped once its grants went with the database.
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`drop role if exists ${role}`);
    } finally {
      await admin.end();
    }
  });

  test('a SELECT-only role exports; the summary names the currency and the held account', async () => {
    const r = await vault(['export', 'invoices', '--period', '2026-10'], { DATABASE_URL: readOnlyUrl });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\r\nTOTAL,1,,,.*,USD,21\.39,0\.00,21\.39,/);
    assert.match(
      r.stderr,
      /^exported invoices\.csv for 2026-10: 1 row, control total 21\.39 USD, .*; 1 account held, not in this file: the export changes when the holds clear \(GET \/v1\/holds\?period=2026-10\)$/m,
    );
  });

  test('a migration not applied: exit 1 naming `vault migrate` and the file, nothing on stdout, schema_migrations unchanged', async () => {
    // As an operator's checkout newer than the database: its latest migration is not applied there.
    const { rows } = await db.pool.query<{ name: string }>(
      `delete from invoicing.schema_migrations
        where name = (select name from invoicing.schema_migrations order by substring(name from '^[0-9]+')::int desc, name desc limit 1)
       returning name`,
    );
    const pending = rows[0]!.name;
    const before = (await db.pool.query('select name, checksum from invoicing.schema_migrations order by name')).rows;
    const r = await vault(['export', 'credits', '--period', '2026-10'], { DATABASE_URL: db.url });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      new RegExp(`invoicing's schema is not current: 1 migration\\(s\\) not applied \\(${pending}\\).*run \`vault migrate\``),
    );
    assert.deepEqual((await db.pool.query('select name, checksum from invoicing.schema_migrations order by name')).rows, before);
  });
});
