// Support for the finalize tests: a byte-exact copy of a test database (so a
// month can be finalized two ways from the same data), a month of many
// accounts written in SQL, and a canonical dump of what finalize writes.
import pg from 'pg';
import type { TestDatabase } from '@vault/testkit';

/**
 * A new database made from `db` as a template (the same rows, ids and
 * timestamps). Template copies need the source idle, so `db`'s sessions are
 * ended first; its pool opens new ones on its next query.
 */
export async function copyOf(db: TestDatabase): Promise<TestDatabase> {
  const source = new URL(db.url);
  const name = `${source.pathname.slice(1)}_copy`;
  const admin = new URL(db.url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [
      source.pathname.slice(1),
    ]);
    await client.query(`create database ${name} template ${source.pathname.slice(1)}`);
  } finally {
    await client.end();
  }
  const url = new URL(db.url);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  pool.on('error', () => {});
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end();
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** `acct-000001`…: the account of generated account n. */
export const generatedAccount = (n: number) => `acct-${String(n).padStart(6, '0')}`;

/**
 * `accounts` accounts with two apps each, owned from before `month`, each app
 * with a web dyno and an add-on in the month and a worker still running at its
 * end; written where metering keeps usage, a few thousand rows per statement.
 */
export async function seedAccounts(pool: pg.Pool, month: { start: string; end: string }, accounts: number): Promise<void> {
  const apps = accounts * 2;
  for (let first = 1; first <= apps; first += 1_000) {
    const range = [first, Math.min(apps, first + 999)];
    await pool.query(
      `insert into metering.app_ownership (app_id, app_subject_id, account_id, during, learned_at)
       select 'gen-app-' || a, 5000000 + a, 'acct-' || lpad(((a + 1) / 2)::text, 6, '0'),
              tstzrange($1::timestamptz - interval '20 days', null, '[)'), $1::timestamptz - interval '20 days'
         from generate_series($2::int, $3::int) a`,
      [month.start, ...range],
    );
    await pool.query(
      `insert into metering.usage_intervals (subject, subject_id, kind, app_id, key, product, during, learned_at)
       select 'gen-' || a || '-' || k, 6000000 + a * 3 + k, case k when 1 then 'addon' else 'dyno' end, 'gen-app-' || a,
              case k when 0 then 'web.1' when 1 then 'addon-' || a else 'worker.1' end,
              case k when 0 then (array['dyno:basic', 'dyno:standard-1x', 'dyno:standard-2x'])[a % 3 + 1]
                     when 1 then 'addon:heroku-postgresql:essential-0' else 'dyno:basic' end,
              case k when 2 then tstzrange($4::timestamptz - interval '2 days', null, '[)')
                     else tstzrange($1::timestamptz + (a % 20) * interval '1 day',
                                    $1::timestamptz + (a % 20) * interval '1 day' + (1 + a % 90) * interval '1 hour', '[)') end,
              $1::timestamptz
         from generate_series($2::int, $3::int) a cross join generate_series(0, 2) k`,
      [month.start, ...range, month.end],
    );
  }
}

/**
 * Everything finalize writes, in a stable order and without what differs by
 * run (the clock's timestamps, the ledger's random entry ids: a lot is named
 * by its grant or the invoice that left it).
 */
export async function canonicalDump(pool: pg.Pool): Promise<{ invoices: unknown[]; lines: unknown[]; credits: unknown[] }> {
  const invoices = await pool.query(
    `select id, number, account_id, period, status, currency, subtotal::text, credit_applied::text, total::text, amount_refunded::text
       from invoicing.invoices order by number`,
  );
  const lines = await pool.query(
    `select invoice_id, position, app_id, kind, key, product, quantity::text, unit_price::text, amount::text, description, adjusts, ms::text
       from invoicing.invoice_lines order by invoice_id, position`,
  );
  const credits = await pool.query(
    `select e.account_id, e.kind, e.amount::text, e.currency, e.grant_id, coalesce(l.grant_id, l.invoice_id) as lot, e.invoice_id,
            e.reason, e.expires_at
       from invoicing.credit_entries e left join invoicing.credit_entries l on l.id = e.lot_id
      order by 1, 2, 3, 5, 6, 7`,
  );
  return { invoices: invoices.rows, lines: lines.rows, credits: credits.rows };
}
