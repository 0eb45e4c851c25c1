// `vault card add` against the real gateway sandbox (a process) and PostgreSQL: a test card that
// needs 3-D Secure on setup cannot be put on file from a command line (only the cardholder, in the
// card form's page, completes the challenge); the command says so and where to go, never "try again".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, freshDatabase, migrateApps, startService, vault, type RunningService, type TestDatabase } from '@vault/testkit';

describe('vault card add with the gateway sandbox', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let sandbox: RunningService;
  let env: Record<string, string>;
  before(async () => {
    db = await freshDatabase('cli_card');
    await migrateApps(db, 'cc-forms');
    env = {
      DATABASE_URL: db.url,
      HOST: '127.0.0.1',
      GATEWAY_PORT: String(await freePort()),
      CC_FORMS_URL: 'https://cards.example.test/vault',
    };
    sandbox = await startService('gateway-sandbox', env);
  });
  after(async () => {
    await sandbox?.kill('SIGTERM');
    await db?.drop();
  });

  const cardsOf = async (account: string) =>
    (await db.pool.query(`select 1 from cc_forms.cards where account_id = $1`, [account])).rowCount;

  for (const number of ['4000002500003155', '4000002760003184']) {
    test(`${number} (3-D Secure on setup) exits 1 naming the authentication and the card form, not "try again"; nothing is saved`, async () => {
      const account = `acct-3ds-${number.slice(-4)}`;
      const r = await vault(['card', 'add', '--account', account, '--test-card', number], env);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /vault: card add: this card needs 3-D Secure authentication, which only the card form in a browser can complete/,
      );
      assert.match(r.stderr, /Nothing was saved\./);
      assert.match(r.stderr, new RegExp(`\`vault token create --account ${account}\``));
      assert.match(r.stderr, /https:\/\/cards\.example\.test\/vault\/signin\?link=…/);
      assert.doesNotMatch(r.stderr, /try again/i);
      assert.match(r.stdout, /event=card\.setup_refused .*reason=status_requires_action/);
      assert.equal(await cardsOf(account), 0);
    });
  }

  test('4242… is put on file as ever (exit 0)', async () => {
    const r = await vault(['card', 'add', '--account', 'acct-visa'], env);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /card on file for acct-visa: visa •••• 4242/);
    assert.equal(await cardsOf('acct-visa'), 1);
  });
});
