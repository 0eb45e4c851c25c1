// `vault token list` read every token ever made (revoked and expired ones are kept) into memory
// and spread one argument per token into Math.max for its column widths: at about 130,000 tokens
// it printed "Maximum call stack size exceeded" and exited 1. It now takes the widths from the
// database and prints a page of tokens at a time from a cursor. Real PostgreSQL, the real command.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, vault, type TestDatabase } from '@vault/testkit';

const TOKENS = 200_000;
const root = fileURLToPath(new URL('..', import.meta.url));

/** The command's peak RSS in KiB, through GNU time when the system has it (reported, not asserted). */
function peakRss(args: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  if (!existsSync('/usr/bin/time')) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, `${root}bin/vault.js`, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', () => resolve(Number(/maxrss=(\d+)/.exec(stderr)?.[1]) || undefined));
  });
}

describe(`vault token list with ${TOKENS.toLocaleString('en')} tokens`, { timeout: 240_000 }, () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let baseline: number | undefined;
  before(async () => {
    db = await freshDatabase('cli_token_list_many');
    env = { DATABASE_URL: db.url };
    // Migrates invoicing, and is the first token listed (the oldest).
    const first = await vault(['token', 'create', '--finance'], env);
    assert.equal(first.status, 0, first.stderr);
    baseline = await peakRss(['token', 'list'], env);
    await db.pool.query(`update invoicing.tokens set created_at = '2025-01-01Z'`);
    await db.pool.query(
      `insert into invoicing.tokens (id, hash, kind, account_id, created_at, expires_at, revoked_at)
       select 'tok_' || lpad(to_hex(i), 16, '0'), md5(i::text) || md5((-i)::text), 'account', 'acct-' || i,
              timestamptz '2026-01-01Z' + i * interval '1 second',
              case when i % 3 = 0 then timestamptz '2026-06-01Z' end, case when i % 5 = 0 then timestamptz '2026-07-01Z' end
         from generate_series(1, $1) i`,
      [TOKENS],
    );
  });
  after(() => db.drop());

  test('exits 0 and prints every token, oldest first, in aligned columns', async () => {
    const r = await vault(['token', 'list'], env);
    assert.equal(r.status, 0, r.stderr.slice(0, 500));
    assert.equal(r.stderr, '');
    const lines = r.stdout.split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.equal(lines.length, TOKENS + 2, 'the header, the finance token, then each seeded one');
    // As wide as the widest cell: ids 20, kinds 9 ("publisher" is none here: "account" 7), accounts "acct-200000" 11.
    assert.equal(
      lines[0],
      `${'ID'.padEnd(20)}  ${'KIND'.padEnd(7)}  ${'ACCOUNT'.padEnd(11)}  ${'CREATED'.padEnd(20)}  ${'EXPIRES'.padEnd(20)}  STATE`,
    );
    assert.match(lines[1]!, /^tok_[0-9a-f]{16} {2}finance {2}- {12}2025-01-01T00:00:00Z {2}- {21}live$/);
    assert.equal(lines[2], 'tok_0000000000000001  account  acct-1       2026-01-01T00:00:01Z  -                     live');
    assert.equal(lines[4], 'tok_0000000000000003  account  acct-3       2026-01-01T00:00:03Z  2026-06-01T00:00:00Z  expired');
    assert.equal(lines[6], 'tok_0000000000000005  account  acct-5       2026-01-01T00:00:05Z  -                     revoked');
    assert.equal(lines.at(-1), 'tok_0000000000030d40  account  acct-200000  2026-01-03T07:33:20Z  -                     revoked');
    const ids = lines.slice(2).map((l) => l.slice(0, 20));
    assert.deepEqual(
      ids.filter((id, i) => i > 0 && id <= ids[i - 1]!),
      [],
      'oldest first, each once',
    );
    const rss = await peakRss(['token', 'list'], env);
    const mib = (kib: number | undefined) => `${((kib ?? 0) / 1024).toFixed(0)} MiB`;
    if (rss !== undefined) console.log(`vault token list: peak RSS ${mib(rss)} with ${TOKENS} tokens, ${mib(baseline)} with one`);
  });

  test("`--live` lists only the tokens that work now, `--account ID` only that account's; widths fit what is listed", async () => {
    const live = await vault(['token', 'list', '--live'], env);
    assert.equal(live.status, 0, live.stderr.slice(0, 500));
    const rows = live.stdout.trimEnd().split('\n').slice(1);
    // Neither a multiple of 3 (expired) nor of 5 (revoked), and the finance token.
    const expected = TOKENS - Math.floor(TOKENS / 3) - Math.floor(TOKENS / 5) + Math.floor(TOKENS / 15) + 1;
    assert.equal(rows.length, expected);
    assert.ok(
      rows.every((l) => l.endsWith('  live')),
      'only live ones',
    );
    const one = await vault(['token', 'list', '--account', 'acct-7', '--live'], env);
    assert.equal(one.status, 0, one.stderr);
    assert.equal(
      one.stdout,
      `ID                    KIND     ACCOUNT  CREATED               EXPIRES  STATE\n` +
        'tok_0000000000000007  account  acct-7   2026-01-01T00:00:07Z  -        live\n',
    );
    const gone = await vault(['token', 'list', '--account=acct-15', '--live'], env);
    assert.equal(gone.status, 0, gone.stderr);
    assert.equal(gone.stdout, 'ID  KIND  ACCOUNT  CREATED  EXPIRES  STATE\n', 'revoked: none listed, the header alone');
    const revoked = await vault(['token', 'list', '--account=acct-15'], env);
    assert.match(revoked.stdout, /^tok_000000000000000f +account +acct-15 +\S+ +\S+ +revoked$/m);
  });

  test('the filters are usage errors elsewhere, named, before touching the database', async () => {
    const cases: [string[], RegExp][] = [
      [['token', 'revoke', 'tok_0123456789abcdef', '--live'], /unknown option --live/],
      [['token', 'list', '--account', ''], /token list: --account must be 1 to 128 characters/],
      [['token', 'list', '--live=yes'], /--live/],
    ];
    for (const [args, message] of cases) {
      const r = await vault(args, { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '');
    }
  });
});
