// `vault token list` writes a page at a time with no transaction open while its reader reads: tokens made
// and revoked between two pages neither skip nor repeat a token, and never outgrow the header's widths.
// The listing is the tokens as they were when it began (one snapshot, kept by a `with hold` cursor).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { codePoints, runTokenList } from '../src/cli/token.ts';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';

/** What a listing wrote, each call to `write` apart; `between(n)` runs after the n-th write (the header is the first). */
async function listed(db: TestDatabase, page: number, between: (n: number) => Promise<void> = async () => {}): Promise<string[]> {
  const writes: string[] = [];
  const outcome = await runTokenList(
    db.pool,
    async (text) => {
      writes.push(text);
      await between(writes.length);
    },
    {},
    page,
  );
  assert.deepEqual(outcome, { status: 0 });
  return writes;
}

describe('vault token list, page by page, while tokens are made and revoked (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('token_list_pages');
    await ensureInvoicingSchema(db.pool);
    // Eight tokens (four pages of two, the last fetch empty); t3 and t4 made at the same instant, the id orders them.
    await db.pool.query(
      `insert into invoicing.tokens (id, hash, kind, account_id, created_at, expires_at) values
         ('tok_t1', 'h1', 'account', 'acct-1', '2026-01-01Z', null),
         ('tok_t2', 'h2', 'account', 'acct-2', '2026-01-02Z', null),
         ('tok_t4', 'h4', 'account', 'acct-4', '2026-01-03Z', null),
         ('tok_t3', 'h3', 'account', 'acct-3', '2026-01-03Z', null),
         ('tok_t5', 'h5', 'account', 'acct-5', '2026-01-05Z', null),
         ('tok_t6', 'h6', 'finance', null, '2026-01-06Z', null),
         ('tok_t7', 'h7', 'account', 'acct-7', '2026-01-07Z', null),
         ('tok_t8', 'h8', 'account', 'acct-8', '2026-01-08Z', null)`,
    );
  });
  after(() => db?.drop());

  test('tokens made and revoked between pages: each token of the start once, in order, as it was then, in the widths of the header', async () => {
    const before = (await listed(db, 1000)).join('');
    const wide = `acct-${'w'.repeat(40)}`;
    const writes = await listed(db, 2, async (n) => {
      if (n === 2) {
        // After the first page: a token newer than all, one dated among those not yet listed (a clock stepped
        // back, a slow insert), both of an account wider than any listed; one listed and one to come revoked.
        await db.pool.query(
          `insert into invoicing.tokens (id, hash, kind, account_id, created_at, expires_at) values
             ('tok_new', 'hn', 'account', $1, now(), now() + interval '1 day'),
             ('tok_back', 'hb', 'account', $1, '2026-01-04Z', null)`,
          [wide],
        );
        await db.pool.query(`update invoicing.tokens set revoked_at = now() where id in ('tok_t1', 'tok_t5')`);
      }
      if (n === 3) await db.pool.query(`delete from invoicing.tokens where id = 'tok_t7'`);
    });
    assert.equal(writes.length, 5, 'the header, then four pages');
    assert.equal(writes.join(''), before, 'the listing as it was when it began');
    const lines = before.trimEnd().split('\n');
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(' ')[0]),
      ['tok_t1', 'tok_t2', 'tok_t3', 'tok_t4', 'tok_t5', 'tok_t6', 'tok_t7', 'tok_t8'],
    );
    assert.ok(
      lines.slice(1).every((l) => codePoints(l) === codePoints(lines[0]!) - 'STATE'.length + 'live'.length),
      'every line as wide as the header',
    );
    // The next listing sees what changed.
    const now = (await listed(db, 2)).join('');
    assert.match(now, /^tok_t1 .* revoked$/m);
    assert.match(now, /^tok_t5 .* revoked$/m);
    assert.match(now, new RegExp(`^tok_back +account +${wide} +2026-01-04T00:00:00Z +- +live$`, 'm'));
    assert.match(now, new RegExp(`^tok_new +account +${wide} .* live$`, 'm'));
    assert.doesNotMatch(now, /tok_t7/);
  });

  test("an account's empty listing on a pool of one connection: known or not, it is answered once the listing's session is let go", async () => {
    const one = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const writes: string[] = [];
      const unknown = await runTokenList(one, (t) => void writes.push(t), { accountId: 'acct-typo' });
      assert.equal(unknown.status, 1);
      assert.match(unknown.note!, /^no tokens for account acct-typo \(an account invoicing has not seen/);
      assert.equal(writes.join(''), '', 'nothing on stdout');
      const known = await runTokenList(one, (t) => void writes.push(t), { accountId: 'acct-1', live: true });
      assert.deepEqual(known, { status: 0 });
      assert.deepEqual(writes, ['ID  KIND  ACCOUNT  CREATED  EXPIRES  STATE\n'], 'its tokens are revoked: the header alone');
    } finally {
      await one.end();
    }
  });

  test('code points, not UTF-16 units: an astral character counts one', () => {
    assert.equal(codePoints('acct-1'), 6);
    assert.equal(codePoints('\u{1F600}\u{1F600}x'), 3);
    assert.equal(codePoints('é'), 1);
  });
});
