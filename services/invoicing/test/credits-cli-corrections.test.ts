// `vault credit grant` and `vault credit reverse` against the real PostgreSQL:
// the same grant command run twice is one grant (its id derived, not random),
// a grant to an account invoicing has never seen is refused unless
// --new-account, and a grant made in error is taken back once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { freshDatabase, migrateApps, vault, type TestDatabase } from '@vault/testkit';
import { seedOwners } from './seed.ts';

const ADMIN = 'admin-token-credit-cli-0123456789abcdef';

describe('vault credit grant and vault credit reverse', () => {
  let db: TestDatabase;
  const cli = (args: string[]) => vault(args, { DATABASE_URL: db.url, ADMIN_TOKEN: ADMIN });
  const grants = async (account: string) =>
    (
      await db.pool.query<{ grant_id: string; amount: string }>(
        `select grant_id, amount::text from invoicing.credit_entries where account_id = $1 and kind = 'grant' order by at`,
        [account],
      )
    ).rows.map((r) => `${r.grant_id} ${r.amount}`);
  const balanceOf = async (account: string) =>
    (
      await db.pool.query<{ left: string }>(
        `select coalesce(sum(remaining), 0)::text as left from invoicing.credit_lots where account_id = $1 and remaining > 0`,
        [account],
      )
    ).rows[0]!.left;

  before(async () => {
    db = await freshDatabase('credit_cli');
    await migrateApps(db);
    await seedOwners(db.pool, [{ app: 'cli-app', account: 'acct-cli', from: DateTime.utc().minus({ months: 2 }).toISO()! }]);
  });
  after(() => db?.drop());

  test('the same grant command run twice without --id is one grant: the id is derived and printed, the second run says nothing changed', async () => {
    const command = ['credit', 'grant', '--account', 'acct-cli', '--amount', '5.00', '--reason', 'goodwill: outage of Nov 3'];
    const once = await cli(command);
    assert.equal(once.status, 0, once.stderr + once.stdout);
    const today = DateTime.utc().toFormat('yyyyMMdd');
    const id = new RegExp(`\\(credit (grant-${today}-[0-9a-f]{16}), never expires\\)`).exec(once.stdout)?.[1];
    assert.ok(id, once.stdout);
    assert.match(once.stdout, /^granted 5\.00 USD to acct-cli .*; balance now 5\.00 USD\n$/);
    const twice = await cli(command);
    assert.equal(twice.status, 0, twice.stderr + twice.stdout);
    assert.match(twice.stdout, new RegExp(`^credit ${id} was already granted on .*; nothing changed; balance 5\\.00 USD\\n$`));
    assert.deepEqual(await grants('acct-cli'), [`${id} 5.00`]);
    // Another amount (or reason) is another grant, under another id.
    const other = await cli(['credit', 'grant', '--account', 'acct-cli', '--amount', '2.50', '--reason', 'goodwill: outage of Nov 3']);
    assert.equal(other.status, 0, other.stderr + other.stdout);
    assert.doesNotMatch(other.stdout, new RegExp(id));
    assert.equal((await grants('acct-cli')).length, 2);
  });

  test('a grant to an account invoicing has never seen exits 1 naming the account and grants nothing; --new-account grants it', async () => {
    const typo = await cli(['credit', 'grant', '--account', 'acct-typo-22', '--amount', '15.00', '--reason', 'outage', '--id', 'typo-1']);
    assert.equal(typo.status, 1, typo.stderr + typo.stdout);
    assert.match(
      typo.stdout,
      /^nothing granted: account: acct-typo-22 is not an account invoicing knows .*; check --account, or add --new-account/,
    );
    assert.deepEqual(await grants('acct-typo-22'), []);
    const fresh = await cli(['credit', 'grant', '--account', 'acct-new', '--amount', '15.00', '--reason', 'welcome', '--new-account']);
    assert.equal(fresh.status, 0, fresh.stderr + fresh.stdout);
    assert.match(fresh.stdout, /^granted 15\.00 USD to acct-new /);
  });

  test('vault credit reverse takes back part of a grant once, prints it and the balance; more than is left or no such grant exits 1; --help does nothing else', async () => {
    assert.equal(
      (await cli(['credit', 'grant', '--account', 'acct-cli', '--amount', '10.00', '--reason', 'typo: meant 1.00', '--id', 'rev-1']))
        .status,
      0,
    );
    const before = Number(await balanceOf('acct-cli'));
    const help = await cli(['credit', 'reverse', 'rev-1', '--reason', 'typo', '--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^usage: vault credit reverse ID \[--amount 10\.00\] --reason TEXT/);
    assert.equal(Number(await balanceOf('acct-cli')), before, '--help reversed nothing');

    const tooMuch = await cli(['credit', 'reverse', 'rev-1', '--amount', '10.01', '--reason', 'typo']);
    assert.equal(tooMuch.status, 1, tooMuch.stderr + tooMuch.stdout);
    assert.match(
      tooMuch.stdout,
      /^nothing reversed: amount: must be at most 10\.00, what is left of credit rev-1: granted 10\.00 USD; got 10\.01\n$/,
    );

    const reverse = ['credit', 'reverse', 'rev-1', '--amount', '9.00', '--reason', 'typo: meant 1.00'];
    const once = await cli(reverse);
    assert.equal(once.status, 0, once.stderr + once.stdout);
    const after = (before - 9).toFixed(2);
    assert.equal(
      once.stdout,
      `reversed 9.00 USD of credit rev-1 (granted 10.00 USD to acct-cli): typo: meant 1.00; balance now ${after} USD\n`,
    );
    const twice = await cli(reverse);
    assert.equal(twice.status, 0, twice.stderr + twice.stdout);
    assert.match(
      twice.stdout,
      new RegExp(
        `^credit rev-1 was already reversed on .* \\(9\\.00 USD taken back from acct-cli\\); nothing changed; balance ${after} USD\\n$`,
      ),
    );
    assert.equal(await balanceOf('acct-cli'), after);
    const other = await cli(['credit', 'reverse', 'rev-1', '--amount', '1.00', '--reason', 'typo: meant 1.00']);
    assert.equal(other.status, 1);
    assert.match(
      other.stdout,
      /^nothing reversed: credit rev-1 was already reversed on .* with another amount \(9\.00 USD taken back: typo: meant 1\.00\); a grant is reversed once\n$/,
    );

    const none = await cli(['credit', 'reverse', 'no-such-grant', '--reason', 'r']);
    assert.equal(none.status, 1);
    assert.match(none.stdout, /^nothing reversed: no grant no-such-grant/);
    const noReason = await cli(['credit', 'reverse', 'rev-1']);
    assert.equal(noReason.status, 2);
    assert.match(noReason.stderr, /credit reverse: --reason is required/);
  });
});
