// The card-testing tables read per invoice, never whole. foreign_card_declines and
// revoked_payment_intents grow with every card tester's burst, across all invoices; the invoice
// pages' "payment request canceled" words (request-canceled.ts) are read per invoice shown, and the
// 3-D Secure window's rule (round-ask.ts) at every PaymentIntent let go. Each used to look the
// declines up by PaymentIntent alone (no index) and the revocations by invoice (none either).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { REQUEST_CANCELED_UNTIL_SQL } from '../src/charging/request-canceled.ts';
import { revokedForCardTestingSql } from '../src/charging/round-ask.ts';
import { chargingDatabase } from './charging-fixture.ts';

const INVOICES = 2_000;
const DECLINES_EACH = 10;
const CARD_TESTING = new Set(['foreign_card_declines', 'revoked_payment_intents']);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

describe('card testing’s tables on many invoices', () => {
  let db: TestDatabase;
  const plan = async (sql: string, params: unknown[]) => {
    const { rows } = await db.pool.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`explain (format json) ${sql}`, params);
    return nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
  };
  const wholeReads = (ns: PlanNode[]) =>
    ns.filter((n) => n['Node Type'] === 'Seq Scan' && CARD_TESTING.has(n['Relation Name'] ?? '')).map((n) => n['Relation Name']);

  before(async () => {
    db = await chargingDatabase();
    // Every invoice burnt once (its revoked PaymentIntent, ten testers' declines), its row waiting for the hour.
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total)
       select 'inv-' || n, 'acct-' || n, '2026-10', '2026-10-01Z', '2026-11-01Z', '2026-10-' || lpad(n::text, 6, '0'), 'finalized', 'USD', 52.58
         from generate_series(1, $1::int) n`,
      [INVOICES],
    );
    await db.pool.query(
      `insert into invoicing.charges (invoice_id, state, attempts, next_attempt_at)
       select 'inv-' || n, 'scheduled', 1, timestamptz '2026-11-05T11:00:00Z' from generate_series(1, $1::int) n`,
      [INVOICES],
    );
    await db.pool.query(
      `insert into invoicing.revoked_payment_intents (payment_intent_id, invoice_id, revoked_at, retry_at, settled_at)
       select 'pi_' || n, 'inv-' || n, timestamptz '2026-11-05T10:00:00Z', timestamptz '2026-11-05T11:00:00Z', timestamptz '2026-11-05T10:00:01Z'
         from generate_series(1, $1::int) n`,
      [INVOICES],
    );
    await db.pool.query(
      `insert into invoicing.foreign_card_declines (event_id, invoice_id, payment_intent_id, payment_method_id, declined_at)
       select 'evt_' || n || '_' || k, 'inv-' || n, 'pi_' || n, 'pm_tester_' || k, timestamptz '2026-11-05T10:00:00Z'
         from generate_series(1, $1::int) n cross join generate_series(1, $2::int) k`,
      [INVOICES, DECLINES_EACH],
    );
    await db.pool.query(
      'analyze invoicing.invoices, invoicing.charges, invoicing.revoked_payment_intents, invoicing.foreign_card_declines',
    );
  });
  after(() => db?.drop());

  test('the pages’ "payment request canceled" words: both tables by index, for a page of invoices', async () => {
    const sql = `select c.invoice_id, ${REQUEST_CANCELED_UNTIL_SQL} as until
                   from unnest($1::text[]) as x(id) join invoicing.charges c on c.invoice_id = x.id`;
    const ids = ['inv-1', 'inv-2', 'inv-3'];
    const ns = await plan(sql, [ids]);
    assert.deepEqual(wholeReads(ns), [], JSON.stringify(ns.map((n) => [n['Node Type'], n['Relation Name'], n['Index Name']])));
    const indexes = new Set(ns.map((n) => n['Index Name']).filter(Boolean));
    assert.ok(indexes.has('revoked_payment_intents_invoice'), [...indexes].join(', '));
    assert.ok(indexes.has('foreign_card_declines_invoice'), [...indexes].join(', '));
    // And it still answers: each row waits for its revocation's retry_at.
    const { rows } = await db.pool.query<{ until: Date | null }>(sql, [ids]);
    assert.deepEqual(
      rows.map((r) => r.until?.toISOString()),
      ids.map(() => '2026-11-05T11:00:00.000Z'),
    );
  });

  test('whether a PaymentIntent let go was revoked for card testing (the window’s rule): by index', async () => {
    const sql = `select ${revokedForCardTestingSql('$1', '$2')} as tested`;
    const ns = await plan(sql, ['pi_7', 'inv-7']);
    assert.deepEqual(wholeReads(ns), [], JSON.stringify(ns.map((n) => [n['Node Type'], n['Relation Name'], n['Index Name']])));
    assert.equal((await db.pool.query<{ tested: boolean }>(sql, ['pi_7', 'inv-7'])).rows[0]?.tested, true);
    assert.equal((await db.pool.query<{ tested: boolean }>(sql, ['pi_7', 'inv-8'])).rows[0]?.tested, false);
  });
});
