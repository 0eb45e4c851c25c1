// `vault … | head`: when the reader of stdout goes away, every command says so in one
// line on stderr and exits 1, never with Node's "Unhandled 'error' event" stack;
// `vault token create` never leaves behind a live token nobody saw, and what an
// invoicing command did (a credit granted under a new id) is said on stderr.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, migrateApps, type TestDatabase } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `vault ...args` whose stdout reader is gone before it writes (destroyed at once): its exit status and stderr. */
async function withStdoutClosed(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['bin/vault.js', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stderr };
}

const noStack = (stderr: string) => {
  assert.doesNotMatch(stderr, /node:events|Unhandled 'error' event|^\s+at /m, stderr);
};

describe('`vault` with its stdout closed', () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    db = await freshDatabase('cli_stdout_closed');
    // Metering's views: an export of a month no run finalized reads them.
    await migrateApps(db, 'metering');
    env = { DATABASE_URL: db.url, INVOICING_PORT: '3456' };
  });
  after(() => db.drop());

  test('`vault help` and `vault token list`: one line, `vault <command>: stdout was closed`, exit 1, no stack', async () => {
    const help = await withStdoutClosed(['help']);
    assert.equal(help.status, 1, help.stderr);
    assert.equal(help.stderr, 'vault help: stdout was closed\n');

    const usage = await withStdoutClosed(['token', 'create', '--help']);
    assert.equal(usage.status, 1, usage.stderr);
    assert.equal(usage.stderr, 'vault token create: stdout was closed\n');

    const list = await withStdoutClosed(['token', 'list'], env);
    assert.equal(list.status, 1, list.stderr);
    noStack(list.stderr);
    assert.match(list.stderr, /^vault token list: stdout was closed\n$/m);
  });

  test('`vault token create --finance`: the token nobody saw is revoked, and the one line says so (its id), exit 1', async () => {
    const r = await withStdoutClosed(['token', 'create', '--finance', '--expires', 'P1Y'], env);
    assert.equal(r.status, 1, r.stderr);
    noStack(r.stderr);
    const id =
      /^vault token create: stdout was closed before the token was shown; it is revoked \((tok_[0-9a-f]{16})\), run it again$/m.exec(
        r.stderr,
      )?.[1];
    assert.ok(id, r.stderr);
    // Nothing else said: no id to use, no "revoke it with".
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    const { rows } = await db.pool.query<{ id: string; live: boolean }>(
      'select id, revoked_at is null and (expires_at is null or expires_at > now()) as live from invoicing.tokens',
    );
    assert.deepEqual(rows, [{ id, live: false }]);
  });

  test('`vault credit grant`: the grant made before stdout was found closed is said on stderr (its id), so it is not run again to find out; exit 1', async () => {
    const r = await withStdoutClosed(
      ['credit', 'grant', '--account', 'acct-closed', '--amount', '10.00', '--reason', 'goodwill', '--new-account'],
      env,
    );
    assert.equal(r.status, 1, r.stderr);
    noStack(r.stderr);
    const { rows } = await db.pool.query<{ grant_id: string }>(
      `select grant_id from invoicing.credit_entries where account_id = 'acct-closed' and kind = 'grant'`,
    );
    assert.equal(rows.length, 1, 'granted once');
    assert.equal(
      r.stderr,
      'vault credit grant: stdout was closed; what it printed:\n' +
        `  granted 10.00 USD to acct-closed (credit ${rows[0]!.grant_id}, never expires): goodwill; balance now 10.00 USD\n`,
    );
  });

  test('`vault export`: the same line, `vault export: stdout was closed`, saying the CSV is incomplete; exit 1, no stack', async () => {
    const r = await withStdoutClosed(['export', 'invoices', '--period', '2020-01'], env);
    assert.equal(r.status, 1, r.stderr);
    noStack(r.stderr);
    assert.equal(r.stderr, 'vault export: stdout was closed before the control row: the CSV is incomplete\n');
  });
});
