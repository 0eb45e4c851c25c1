// Each `vault start` prints a fresh sign-in link for the demo account: the token behind
// it expires within a day (its link's 15 minutes and the 12-hour session it opens fit),
// so many starts never leave a pile of live, never-expiring credentials nobody saw.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { DEMO_TOKEN_SECONDS, demoSignIn } from '../scripts/cli/demo.ts';

describe("the demo's sign-in link at each start (real PostgreSQL)", () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('demo_sign_in');
  });
  after(() => db?.drop());

  test('five starts: five links, each on its own token, every one expiring a day after it was made', async () => {
    const settings = { INVOICING_WEB_URL: undefined, INVOICING_PORT: 3000 };
    const links = [];
    for (let i = 0; i < 5; i++) links.push(await demoSignIn({ db, settings }, 'acct-demo'));
    assert.equal(new Set(links).size, 5);
    for (const link of links) assert.match(link, /^http:\/\/localhost:3000\/signin\?link=vl_/);
    const { rows } = await db.pool.query<{ kind: string; lifetime: number | null }>(
      `select kind, extract(epoch from expires_at - created_at)::float8 as lifetime
         from invoicing.tokens where account_id = 'acct-demo'`,
    );
    assert.equal(rows.length, 5);
    assert.equal(DEMO_TOKEN_SECONDS, 86_400);
    for (const row of rows) {
      assert.equal(row.kind, 'account');
      assert.ok(row.lifetime !== null, 'it expires');
      assert.ok(Math.abs(row.lifetime - DEMO_TOKEN_SECONDS) < 60, `a day, not ${row.lifetime} s`);
    }
  });
});
