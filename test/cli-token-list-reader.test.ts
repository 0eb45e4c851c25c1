// `vault token list | less` left open kept its cursor's repeatable-read transaction idle for as long as
// the reader stalled, holding back vacuum for the whole database; `--account` of a mistyped account
// printed the header and exited 0; an astral account id (counted in code points by PostgreSQL, padded
// in UTF-16 units) shifted its row. Real PostgreSQL, the real command.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, vault, type TestDatabase } from '@vault/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));
const TOKENS = 20_000;
const APP = 'f9-token-list-reader';
const EMOJI = '\u{1F600}'.repeat(11);

describe('vault token list: a slow reader, an unknown account, astral account ids', { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    db = await freshDatabase('cli_token_list_reader');
    env = { DATABASE_URL: db.url };
    // Migrates invoicing only: metering's schema is not there yet.
    const first = await vault(['token', 'create', '--finance'], env);
    assert.equal(first.status, 0, first.stderr);
  });
  after(() => db.drop());

  test('`--account` of an account with no token and unknown to invoicing: nothing on stdout, said on stderr, exit 1', async () => {
    const early = await vault(['token', 'list', '--account', 'acct-typo'], env);
    assert.equal(early.status, 1, early.stderr);
    assert.equal(early.stdout, '');
    assert.equal(
      early.stderr,
      "vault token list: no tokens for account acct-typo (an account invoicing has not seen; metering's schema is not in this database, so no app owner was looked at)\n",
    );
    const migrated = await vault(['migrate'], env);
    assert.equal(migrated.status, 0, migrated.stderr);
    for (const args of [
      ['--account', 'acct-typo'],
      ['--account', 'acct-typo', '--live'],
    ]) {
      const r = await vault(['token', 'list', ...args], env);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, 'vault token list: no tokens for account acct-typo (an account invoicing has not seen)\n', args.join(' '));
    }
  });

  test('an account invoicing knows (a credit, or a token revoked) with nothing listed: the header alone, exit 0', async () => {
    const granted = await vault(['credit', 'grant', '--account', 'acct-known', '--amount', '1.00', '--reason', 'f9', '--new-account'], env);
    assert.equal(granted.status, 0, granted.stderr);
    const known = await vault(['token', 'list', '--account', 'acct-known'], env);
    assert.deepEqual(known, { status: 0, stdout: 'ID  KIND  ACCOUNT  CREATED  EXPIRES  STATE\n', stderr: '' });
    const made = await vault(['token', 'create', '--account', 'acct-revoked'], env);
    const id = /token (tok_[0-9a-f]{16})/.exec(made.stderr)![1]!;
    assert.equal((await vault(['token', 'revoke', id], env)).status, 0);
    const live = await vault(['token', 'list', '--account', 'acct-revoked', '--live'], env);
    assert.deepEqual(live, { status: 0, stdout: 'ID  KIND  ACCOUNT  CREATED  EXPIRES  STATE\n', stderr: '' });
  });

  test('an astral account id: every column starts at the same code point on every line', async () => {
    for (const account of ['acct-plain-long-1', EMOJI]) {
      const r = await vault(['token', 'create', '--account', account], env);
      assert.equal(r.status, 0, r.stderr);
    }
    const r = await vault(['token', 'list'], env);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(
      lines.some((l) => l.includes(EMOJI)),
      'the emoji account is listed',
    );
    const header = [...lines[0]!];
    const starts = ['KIND', 'ACCOUNT', 'CREATED', 'EXPIRES', 'STATE'].map(
      (name) => [...lines[0]!.slice(0, lines[0]!.indexOf(name))].length,
    );
    assert.equal(header.length, starts.at(-1)! + 'STATE'.length);
    for (const line of lines) {
      const cps = [...line];
      for (const at of starts)
        assert.ok(cps[at - 2] === ' ' && cps[at - 1] === ' ' && cps[at] !== ' ', `a column starts at ${at}: ${line}`);
    }
  });

  test('a reader that does not read for seconds: no session of the command is idle in a transaction, or holds a snapshot, meanwhile', async () => {
    await db.pool.query(
      `insert into invoicing.tokens (id, hash, kind, account_id, created_at)
       select 'tok_' || lpad(to_hex(i), 16, '0'), md5(i::text) || md5((-i)::text), 'account', 'acct-' || i, timestamptz '2026-01-01Z' + i * interval '1 second'
         from generate_series(1, $1) i`,
      [TOKENS],
    );
    const { rows: total } = await db.pool.query<{ n: number }>('select count(*)::int as n from invoicing.tokens');
    // Its stdout is never read until the end: the pipe fills with the first page, and each write waits.
    const child = spawn(process.execPath, [`${root}bin/vault.js`, 'token', 'list'], {
      cwd: root,
      env: { ...process.env, ...env, PGAPPNAME: APP },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const sessions = async () =>
      (
        await db.pool.query<{ state: string; xmin: string | null; query: string }>(
          `select state, backend_xmin::text as xmin, query from pg_stat_activity
            where datname = current_database() and application_name = $1 and pid <> pg_backend_pid()`,
          [APP],
        )
      ).rows;
    let seen: Awaited<ReturnType<typeof sessions>> = [];
    for (let i = 0; i < 200 && seen.length === 0; i++) {
      await sleep(100);
      seen = await sessions();
    }
    assert.ok(seen.length > 0, `the command's session is seen (${stderr})`);
    await sleep(4000);
    const stalled = await sessions();
    assert.equal(child.exitCode, null, 'still waiting for its reader');
    assert.ok(stalled.length > 0, 'its session is still there');
    assert.deepEqual(
      stalled.filter((s) => s.state !== 'idle' || s.xmin !== null),
      [],
      'idle, outside any transaction, holding no snapshot',
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    assert.equal(await closed, 0, stderr);
    const lines = stdout.split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, total[0]!.n + 1, 'the header and every token, once');
    assert.equal(new Set(lines.map((l) => l.slice(0, 20))).size, lines.length);
    // The seeded tokens are the oldest: first, in order; the widths are every token's (the plain long account's 17).
    assert.equal(lines[1], `tok_0000000000000001  account  ${'acct-1'.padEnd(17)}  2026-01-01T00:00:01Z  -        live`);
    assert.equal(
      lines[TOKENS],
      `tok_${TOKENS.toString(16).padStart(16, '0')}  account  ${'acct-20000'.padEnd(17)}  2026-01-01T05:33:20Z  -        live`,
    );
  });
});
