// `vault token list --account X` read every token (kept for ever, revoked and expired too) to find one
// account's: no index had the account. Migration 047 adds tokens_by_account (account_id, created_at, id),
// and drops 008's charges_past_due, which no query can use (none says `state = 'past_due'`).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { listTokens, type TokenListing } from '../src/access/tokens.ts';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';

const TOKENS = 200_000;

/** Every statement the pool's clients send while `run` runs, with its parameters. */
async function statementsOf(pool: pg.Pool, run: () => Promise<void>): Promise<{ sql: string; params: unknown[] }[]> {
  const seen: { sql: string; params: unknown[] }[] = [];
  const connect = pool.connect;
  pool.connect = (async () => {
    const client = (await (connect as () => Promise<pg.PoolClient>).call(pool)) as pg.PoolClient;
    const query = client.query;
    client.query = ((...a: unknown[]) => {
      if (typeof a[0] === 'string') seen.push({ sql: a[0], params: (a[1] as unknown[]) ?? [] });
      return (query as (...b: unknown[]) => unknown).apply(client, a);
    }) as never;
    const release = client.release;
    client.release = ((...a: unknown[]) => {
      client.query = query;
      client.release = release;
      return (release as (...b: unknown[]) => unknown).apply(client, a);
    }) as never;
    return client;
  }) as never;
  try {
    await run();
  } finally {
    pool.connect = connect;
  }
  return seen;
}

/** The relations a statement's plan reads whole, and the indexes it reads. */
async function planOf(pool: pg.Pool, sql: string, params: unknown[]): Promise<{ seqScans: string[]; indexes: string[] }> {
  const { rows } = await pool.query<{ 'QUERY PLAN': { Plan: Record<string, unknown> }[] }>(`explain (format json) ${sql}`, params);
  const found = { seqScans: [] as string[], indexes: [] as string[] };
  const walk = (node: Record<string, unknown>) => {
    if (node['Node Type'] === 'Seq Scan') found.seqScans.push(node['Relation Name'] as string);
    if (typeof node['Index Name'] === 'string') found.indexes.push(node['Index Name']);
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk(rows[0]!['QUERY PLAN'][0]!.Plan);
  return found;
}

describe(`vault token list --account among ${TOKENS.toLocaleString('en')} tokens (real PostgreSQL)`, () => {
  let db: TestDatabase;

  before(async () => {
    db = await freshDatabase('token_list_index');
    await ensureInvoicingSchema(db.pool);
    await db.pool.query(
      `insert into invoicing.tokens (id, hash, kind, account_id, created_at)
       select 'tok_' || lpad(g::text, 16, '0'), md5(g::text), 'account', 'acct-' || (g % 20000), timestamptz '2026-01-01Z' + g * interval '1 second'
         from generate_series(1, $1) g`,
      [TOKENS],
    );
    // acct-x's own: two made at the same instant (the id orders them), one revoked, one expired.
    await db.pool.query(
      `insert into invoicing.tokens (id, hash, kind, account_id, created_at, expires_at, revoked_at) values
         ('tok_x3', 'h3', 'account', 'acct-x', '2026-06-02Z', null, null),
         ('tok_x2', 'h2', 'account', 'acct-x', '2026-06-01Z', null, '2026-06-03Z'),
         ('tok_x1', 'h1', 'account', 'acct-x', '2026-06-01Z', '2026-06-02Z', null),
         ('tok_fin', 'hf', 'finance', null, '2026-06-01Z', null, null)`,
    );
    await db.pool.query('analyze invoicing.tokens');
  });
  after(() => db?.drop());

  test("an account's listing reads its tokens by index (tokens_by_account), oldest first, never the whole table", async () => {
    for (const live of [false, true]) {
      const listed: TokenListing[] = [];
      const sent = await statementsOf(db.pool, () =>
        listTokens(db.pool, { extent() {}, page: (tokens) => void listed.push(...tokens) }, { accountId: 'acct-x', live }),
      );
      assert.deepEqual(
        listed.map((t) => t.id),
        live ? ['tok_x3'] : ['tok_x1', 'tok_x2', 'tok_x3'],
      );
      const reads = sent
        .filter((s) => /invoicing\.tokens/.test(s.sql))
        .map((s) => ({ ...s, sql: s.sql.replace(/^\s*declare \w+ no scroll cursor (?:with hold )?for /i, '') }));
      assert.equal(reads.length, 2, 'the extent and the cursor');
      for (const read of reads) {
        const plan = await planOf(db.pool, read.sql, read.params);
        assert.deepEqual(plan.seqScans, [], `no Seq Scan (live=${live}): ${read.sql}`);
        assert.ok(plan.indexes.includes('tokens_by_account'), `read by tokens_by_account (live=${live}): ${plan.indexes.join(', ')}`);
      }
    }
  });

  test('every token still listed without --account, the finance one with them', async () => {
    let count = 0;
    let extent = 0;
    await listTokens(db.pool, {
      extent: (e) => {
        extent = e.count;
      },
      page: (tokens) => {
        count += tokens.length;
      },
    });
    assert.equal(count, TOKENS + 4);
    assert.equal(extent, TOKENS + 4);
  });

  test("008's charges_past_due is dropped (no query says state = 'past_due'); 045's indexes stay", async () => {
    const { rows } = await db.pool.query<{ name: string; present: boolean }>(
      `select name, to_regclass('invoicing.' || name) is not null as present
         from unnest(array['charges_past_due', 'invoices_past_due', 'invoices_chargeable', 'tokens_by_account']) name`,
    );
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.name, r.present])), {
      charges_past_due: false,
      invoices_past_due: true,
      invoices_chargeable: true,
      tokens_by_account: true,
    });
  });
});
