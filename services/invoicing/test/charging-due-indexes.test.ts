// The minute loops (the charging pass, the standing review after it) read what is due by index, and
// the pass a page at a time: with months of paid invoices they scanned every invoice and charge each
// minute, and the first pass of a month held every due invoice in one statement and one list.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { reviewStandings } from '../src/accounts/standing.ts';
import { chargePass } from '../src/charging/charger.ts';
import { chargingDatabase, FakeGateway, putCard } from './charging-fixture.ts';

const PAID = 200_000;
const DUE = 25;
const PAGE = 4;

interface Statement {
  sql: string;
  params: unknown[];
  rows: number;
}

/** Every statement sent through `pool` (its own queries and its clients'), with the rows it returned. */
function recordStatements(pool: pg.Pool): { seen: Statement[]; stop: () => void } {
  const seen: Statement[] = [];
  const wrap = (target: { query: (...a: unknown[]) => unknown }) => {
    const query = target.query;
    target.query = function (this: unknown, ...a: unknown[]) {
      const result = query.apply(this, a);
      const sql = typeof a[0] === 'string' ? a[0] : undefined;
      if (sql === undefined || !(result instanceof Promise)) return result;
      return result.then((r: pg.QueryResult) => {
        seen.push({ sql, params: (a[1] as unknown[]) ?? [], rows: r.rows?.length ?? 0 });
        return r;
      });
    };
    return () => {
      target.query = query;
    };
  };
  const unwrapPool = wrap(pool as never);
  const connect = pool.connect;
  const unwrapped: (() => void)[] = [];
  pool.connect = ((...a: unknown[]) => {
    // pool.query connects with a callback: its statement is recorded by the pool's own wrapper.
    if (typeof a[0] === 'function') return (connect as (...b: unknown[]) => unknown).apply(pool, a);
    return connected();
  }) as never;
  const connected = async () => {
    const client = (await (connect as () => Promise<pg.PoolClient>).call(pool)) as pg.PoolClient & { recorded?: boolean };
    if (!client.recorded) {
      client.recorded = true;
      const unwrap = wrap(client as never);
      unwrapped.push(() => {
        unwrap();
        client.recorded = false;
      });
    }
    return client;
  };
  return {
    seen,
    stop: () => {
      unwrapPool();
      pool.connect = connect;
      for (const unwrap of unwrapped) unwrap();
    },
  };
}

/** The plan's nodes that read `table` whole. */
async function seqScans(pool: pg.Pool, s: Statement, tables: string[]): Promise<string[]> {
  const { rows } = await pool.query<{ 'QUERY PLAN': unknown }>(`explain (format json) ${s.sql}`, s.params);
  const found: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    if (node['Node Type'] === 'Seq Scan' && tables.includes(node['Relation Name'] as string)) found.push(node['Relation Name'] as string);
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk((rows[0]!['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0]!.Plan);
  return found;
}

describe('the minute loops read what is due by index, a page at a time (real PostgreSQL, 200,000 paid invoices)', () => {
  let db: TestDatabase;
  const clock = new Date('2026-12-03T00:00:00Z');
  /** The due invoices' ids in the order a pass charges them: (finalized_at, number). */
  let order: string[];

  before(async () => {
    db = await chargingDatabase();
    // Twenty months of a platform's paid invoices, each with its paid charge row and the
    // PaymentIntent it held. Written with the row triggers off (replica), filling in what they would,
    // so the seed takes seconds, not minutes.
    const seed = await db.pool.connect();
    try {
      await seed.query('begin');
      await seed.query(`set local session_replication_role = replica`);
      await seed.query(
        `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total, subtotal, finalized_at)
         select 'paid-' || g, 'acct-' || (g % 10000), to_char(date '2024-11-01' + (g / 10000) * interval '1 month', 'YYYY-MM'),
                date '2024-11-01' + (g / 10000) * interval '1 month', date '2024-12-01' + (g / 10000) * interval '1 month',
                'P-' || lpad(g::text, 7, '0'), 'paid', 'USD', 20.00, 20.00, date '2024-12-01' + (g / 10000) * interval '1 month'
           from generate_series(0, $1 - 1) g`,
        [PAID],
      );
      await seed.query(
        `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, paid_at)
         select id, 'pi_' || id, 'paid', 1, finalized_at from invoicing.invoices;
         insert into invoicing.charge_payment_intents (payment_intent_id, invoice_id, held_at)
         select payment_intent_id, invoice_id, paid_at from invoicing.charges;`,
      );
      await seed.query('commit');
    } finally {
      seed.release();
    }
    // A few accounts past due for weeks, without a card (not the pass's candidates): the review's.
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total, finalized_at)
       select 'late-' || g, 'acct-late-' || g, '2026-10', '2026-10-01Z', '2026-11-01Z', 'L-' || g, 'past_due', 'USD', 30.00, '2026-11-01Z'
         from generate_series(1, 20) g;
       insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, past_due_at)
       select id, 'pi_' || id, 'past_due', 4, '2026-11-05Z' from invoicing.invoices where id like 'late-%';`,
    );
    // More due than a page: finalized at shuffled instants, some sharing one (their number orders
    // them), some a microsecond apart (a cursor kept as a Date, to the millisecond, would read one again).
    const due = Array.from({ length: DUE }, (_, n) => {
      const at = n % 3 === 0 ? '2026-12-01 00:00:00+00' : `2026-12-0${1 + (n % 2)} 00:00:00.0000${(n * 7) % 10}${n % 10}+00`;
      return { id: `due-${n}`, number: `2026-11-${String((n * 11) % DUE).padStart(6, '0')}`, at };
    });
    for (const d of due) {
      await db.pool.query(
        `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total, finalized_at)
         values ($1, 'acct-' || $1, '2026-11', '2026-11-01Z', '2026-12-01Z', $2, 'finalized', 'USD', 20.00, $3)`,
        [d.id, d.number, d.at],
      );
      await putCard(db.pool, `acct-${d.id}`, `pm_ok_${d.id}`);
    }
    await db.pool.query('analyze');
    const { rows } = await db.pool.query<{ id: string }>(
      `select id from invoicing.invoices where id like 'due-%' order by finalized_at, number`,
    );
    order = rows.map((r) => r.id);
  });
  after(() => db?.drop());

  test('a pass over more due invoices than a page charges each once, in (finalized_at, number) order, no statement returning more than a page; neither loop reads invoices or charges whole', async () => {
    const gateway = new FakeGateway();
    const log = memoryLogger();
    const recorded = recordStatements(db.pool);
    let report: Awaited<ReturnType<typeof chargePass>>;
    let candidates: Statement[];
    let review: Statement[];
    let passed: Statement[];
    try {
      report = await chargePass({
        pool: db.pool,
        gateway,
        retrySchedule: [60, 120],
        log,
        now: () => clock,
        concurrency: 1,
        candidatePage: PAGE,
      });
      candidates = recorded.seen.filter((s) => /left join cc_forms\.cards_on_file/.test(s.sql));
      passed = recorded.seen.slice();
      const from = recorded.seen.length;
      await reviewStandings({ pool: db.pool, log, suspendAfterSeconds: 14 * 86_400, minimum: '0.50', now: () => clock });
      review = recorded.seen.slice(from).filter((s) => /select distinct i\.account_id/.test(s.sql));
    } finally {
      recorded.stop();
    }

    assert.equal(report.paid, DUE);
    const creates = gateway.sent.filter((s) => !s.includes(':attempt:'));
    assert.deepEqual(creates, order, 'each created once, in the order of (finalized_at, number)');
    assert.deepEqual(
      gateway.sent.filter((s) => s.includes(':attempt:')),
      order.map((id) => `${id}:attempt:1`),
      'each confirmed once, in that order',
    );
    assert.match(log.lines.join('\n'), new RegExp(`event=charging\\.pass .*count#charging\\.candidates=${DUE}\\b`), 'none read twice');
    const { rows } = await db.pool.query(`select count(*)::int as n from invoicing.invoices where id like 'due-%' and status = 'paid'`);
    assert.equal(rows[0].n, DUE);

    assert.equal(candidates.length, Math.ceil(DUE / PAGE), 'a page at a time (the last one short ends the pass)');
    const biggest = Math.max(0, ...passed.map((s) => s.rows));
    assert.ok(biggest <= PAGE, `no statement of the pass returned more than a page (${PAGE}); one returned ${biggest}`);

    assert.deepEqual(await seqScans(db.pool, candidates[0]!, ['invoices', 'charges']), [], 'the candidates read by index');
    assert.deepEqual(await seqScans(db.pool, candidates.at(-1)!, ['invoices', 'charges']), [], 'a later page too');
    assert.equal(review.length, 1);
    assert.deepEqual(await seqScans(db.pool, review[0]!, ['invoices', 'charges']), [], "the standing review's candidates by index");
  });
});
