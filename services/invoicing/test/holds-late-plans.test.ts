import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { GAPS_SCOPED, UNOWNED, UNOWNED_SCOPED } from '../src/billing/holds.ts';
import { LATE_CANDIDATES_SCOPED } from '../src/billing/late-usage.ts';
import { LATE_MARGIN_INTERVAL } from '../src/billing/sql.ts';
import { generatedAccount, seedAccounts } from './finalize-fixture.ts';
import { billingDatabase } from './seed.ts';

const ACCOUNTS = 2_000;
const october = { start: '2026-10-01T00:00:00Z', end: '2026-11-01T00:00:00Z' };
// The tables a customer's draft must reach through indexes, never read whole.
const LARGE = new Set(['usage_intervals', 'app_ownership', 'invoices', 'invoice_lines']);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

// A month's partition of the lines (migration 014) counts as the lines.
const tableOf = (relation: string) => relation.replace(/^invoice_lines_\d{4}_\d{2}$/, 'invoice_lines');

const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

describe('scoped holds and late-usage candidates on a month of 2,000 accounts', () => {
  let db: TestDatabase;
  const plan = async (sql: string, params: unknown[]) => {
    const { rows } = await db.pool.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`explain (format json) ${sql}`, params);
    return nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
  };

  before(async () => {
    db = await billingDatabase();
    // Two apps per account, owned from September, used in October (apps 2n-1 and 2n are account n's).
    await seedAccounts(db.pool, october, ACCOUNTS);
    // Finalized August and September, each charging both apps; every 7th app has September usage learned late.
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, finalized_at)
       select 'inv-' || p.period || '-' || n, 'acct-' || lpad(n::text, 6, '0'), p.period, p.start, p.start + interval '1 month',
              p.period || '-' || lpad(n::text, 6, '0'), 'usd', 1, p.start + interval '1 month 6 hours'
         from generate_series(1, $1::int) n
        cross join (values ('2026-08', timestamptz '2026-08-01T00:00:00Z'), ('2026-09', timestamptz '2026-09-01T00:00:00Z')) p(period, start)`,
      [ACCOUNTS],
    );
    await db.pool.query(
      'select invoicing.ensure_lines_month(m) from (select distinct left(number, 7) as m from invoicing.invoices) months',
    );
    await db.pool.query(
      `insert into invoicing.invoice_lines (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, ms)
       select i.number, i.id, k, 'gen-app-' || (2 * substr(i.account_id, 6)::int - 2 + k), 'dyno', 'web.1', 'dyno:basic', 1, 1, 1, 'web.1', 1000
         from invoicing.invoices i cross join generate_series(1, 2) k`,
    );
    await db.pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       select 'late-' || a, 'dyno', 'gen-app-' || a, 'run.1', 'dyno:basic',
              tstzrange('2026-09-20T00:00:00Z', '2026-09-21T00:00:00Z', '[)'), '2026-10-03T00:00:00Z'
         from generate_series(7, 2 * $1::int, 7) a`,
      [ACCOUNTS],
    );
    await db.pool.query(
      `insert into metering.subject_gaps (subject, app_id, missing_sequence, unreliable_from)
       select 'gap-' || a, 'gen-app-' || a, 2, '2026-10-15T00:00:00Z' from generate_series(50, 2 * $1::int, 50) a`,
      [ACCOUNTS],
    );
    await db.pool.query('analyze');
  });
  after(() => db.drop());

  test('for one or a few accounts, the scoped GAPS, UNOWNED and LATE_CANDIDATES plans read usage, ownership, invoices and lines through indexes, never a sequential scan', async () => {
    for (const accounts of [[generatedAccount(1234)], [generatedAccount(7), generatedAccount(25), generatedAccount(1999)]]) {
      const window = [new Date(october.start), new Date(october.end), accounts];
      const plans = {
        GAPS_SCOPED: await plan(GAPS_SCOPED, window),
        UNOWNED_SCOPED: await plan(UNOWNED_SCOPED, window),
        LATE_CANDIDATES_SCOPED: await plan(LATE_CANDIDATES_SCOPED, [new Date(october.start), accounts, LATE_MARGIN_INTERVAL]),
      };
      for (const [name, ns] of Object.entries(plans)) {
        const scans = ns.filter((n) => n['Node Type'] === 'Seq Scan' && LARGE.has(tableOf(n['Relation Name'] ?? '')));
        assert.deepEqual(
          scans.map((n) => n['Relation Name']),
          [],
          `${name} for ${accounts.length} account(s) scans whole tables`,
        );
        // Each starts from the accounts' ownership rows.
        assert.ok(
          ns.some((n) => n['Index Name'] === 'app_ownership_by_account'),
          `${name} does not start from app_ownership_by_account`,
        );
      }
      const indexes = (ns: PlanNode[]) => new Set(ns.map((n) => n['Index Name']).filter(Boolean));
      assert.ok(indexes(plans.UNOWNED_SCOPED).has('usage_by_app'), 'UNOWNED_SCOPED reaches usage by app');
      assert.ok(indexes(plans.UNOWNED_SCOPED).has('app_ownership_by_start'), "UNOWNED_SCOPED reaches the apps' other owners by app");
      for (const index of ['invoices_account_id_period_key', 'invoice_lines_pkey', 'usage_by_app', 'app_ownership_by_start']) {
        // The lines' key is each month's partition's (invoice_lines_2026_08_pkey, …).
        const used = [...indexes(plans.LATE_CANDIDATES_SCOPED)].map((i) =>
          i?.replace(/^invoice_lines_\d{4}_\d{2}_pkey$/, 'invoice_lines_pkey'),
        );
        assert.ok(used.includes(index), `LATE_CANDIDATES_SCOPED does not use ${index}`);
      }
    }
    // The check sees a scan where there is one: the whole month's statement reads every ownership row.
    const whole = await plan(UNOWNED, [new Date(october.start), new Date(october.end), null]);
    assert.ok(whole.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'app_ownership'));
  });
});
