// Finance review: credits.csv lists the ledger entries of one instant (a
// finalize run's, all dated at its clock) by id. On a server whose default
// collation is not "C" (an ICU or glibc locale, as managed PostgreSQL often
// has), `order by e.id` followed the locale (letters before case, punctuation
// ignored); the ids are compared as code points, whatever the server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrate } from '@vault/db';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { exportCsv, parseCsv } from '../src/exports/index.ts';
import { collect } from './exports-fixture.ts';
import { METERING_MIGRATIONS } from './seed.ts';

describe('credits.csv on a server whose default collation is not "C"', () => {
  const admin = process.env.TEST_DATABASE_URL!;
  const name = `exports_icu_${randomBytes(6).toString('hex')}`;
  let pool: pg.Pool;

  before(async () => {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    try {
      await client.query(
        `create database ${name} template template0 encoding 'UTF8' locale_provider icu icu_locale 'en-US' locale 'C.UTF-8'`,
      );
    } finally {
      await client.end();
    }
    const url = new URL(admin);
    url.pathname = `/${name}`;
    pool = new pg.Pool({ connectionString: url.toString(), max: 3 });
    pool.on('error', () => {});
    await migrate(pool, 'metering', METERING_MIGRATIONS);
    await ensureInvoicingSchema(pool);
  });
  after(async () => {
    await pool?.end();
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  });

  test('entries of one instant are in code point order of their ids', async () => {
    const { rows } = await pool.query<{ ordered: string[] }>(
      `select array_agg(x order by x) as ordered from unnest(array['cr_B', 'cr_a', 'cr_C0']) x`,
    );
    assert.deepEqual(rows[0]!.ordered, ['cr_a', 'cr_B', 'cr_C0'], 'the database sorts text by its locale, not by code point');
    const at = '2026-10-15T12:00:00Z';
    for (const id of ['cr_a', 'cr_B', 'cr_C0']) {
      await pool.query(
        `insert into invoicing.credit_entries (id, account_id, kind, amount, currency, grant_id, reason, at)
         values ($1, 'acct-1', 'grant', 1.00, 'USD', $1, 'goodwill', $2)`,
        [id, at],
      );
    }
    const records = parseCsv(await collect(exportCsv(pool, 'credits', '2026-10')));
    assert.deepEqual(
      records.slice(1, -1).map((r) => r[1]),
      // 'B' (U+0042) < 'C' (U+0043) < 'a' (U+0061)
      ['cr_B', 'cr_C0', 'cr_a'],
    );
    assert.deepEqual(records.at(-1)!.slice(0, 5), ['TOTAL', '3', '', '', '3.00']);
  });
});
