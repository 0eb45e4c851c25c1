// Issue 19: `vault finalize` killed with SIGKILL in the middle of a month, then
// run again, leaves exactly the invoices of a run that was never interrupted.
// The kill lands at a known point, not a lucky instant: the test holds a lock
// on one grant in the second chunk, so the run commits its first chunk (its
// progress line says so) and then waits inside the second chunk's transaction.
// Until a run completes the month, its invoices export is refused.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { eventually, type TestDatabase } from '@vault/testkit';
import { grantCredit } from '../src/billing/credit-store.ts';
import { FINALIZE_CHUNK_ACCOUNTS } from '../src/billing/finalize.ts';
import { canonicalDump, copyOf, generatedAccount, seedAccounts } from './finalize-fixture.ts';
import { billingDatabase } from './seed.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PERIOD = '2026-03';
const ACCOUNTS = 2 * FINALIZE_CHUNK_ACCOUNTS + 500;
// An account in the middle of the second chunk.
const BLOCKED = generatedAccount(FINALIZE_CHUNK_ACCOUNTS + FINALIZE_CHUNK_ACCOUNTS / 2);

/** `vault finalize --period PERIOD` on `db`, its stdout lines told to `onLine`. */
function vaultFinalize(db: TestDatabase, onLine: (line: string) => void = () => {}): { child: ChildProcess; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [`${ROOT}bin/vault.js`, 'finalize', '--period', PERIOD], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: db.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  createInterface({ input: child.stdout! }).on('line', onLine);
  child.stderr!.resume();
  return { child, exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

/** `vault export invoices --period PERIOD` on `db`: its exit status, stdout and stderr. */
async function vaultExport(db: TestDatabase): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [`${ROOT}bin/vault.js`, 'export', 'invoices', '--period', PERIOD], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: db.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

describe('vault finalize killed mid-month', () => {
  let killed: TestDatabase;
  let whole: TestDatabase;
  before(async () => {
    killed = await billingDatabase();
    await seedAccounts(killed.pool, { start: '2026-03-01T00:00:00Z', end: '2026-04-01T00:00:00Z' }, ACCOUNTS);
    // Credit on every 100th account, and on the one whose grant the test will hold.
    const at = new Date('2026-03-15T00:00:00Z');
    for (const n of [...Array.from({ length: ACCOUNTS / 100 }, (_, i) => (i + 1) * 100 - 37), FINALIZE_CHUNK_ACCOUNTS * 1.5]) {
      const accountId = generatedAccount(n);
      await grantCredit(killed.pool, {
        grantId: `g-${accountId}`,
        accountId,
        amount: '4.00',
        currency: 'USD',
        reason: 'test',
        expiresAt: null,
        at,
      });
    }
    whole = await copyOf(killed);
  });
  after(async () => {
    await whole?.drop();
    await killed?.drop();
  });

  test('killed after its first chunk committed, then run again: invoices, numbers, lines and ledger equal an uninterrupted run', async () => {
    const uninterrupted = vaultFinalize(whole);
    assert.equal(await uninterrupted.exit, 0);

    // The second chunk's transaction will wait for this lock (its credit entry references the grant).
    const holder = await killed.pool.connect();
    let progress = 0;
    try {
      await holder.query('begin');
      await holder.query('select 1 from invoicing.credit_entries where grant_id = $1 for update', [`g-${BLOCKED}`]);
      const run = vaultFinalize(killed, (line) => {
        if (line.includes('event=invoicing.finalize_progress')) progress += 1;
      });
      await eventually('the first chunk committed and the second waiting on the held grant', async () => {
        const { rows } = await killed.pool.query<{ waiting: string }>(
          `select count(*) as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
        );
        return progress === 1 && Number(rows[0]!.waiting) === 1;
      });
      run.child.kill('SIGKILL');
      assert.equal(await run.exit, null);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    const { rows } = await killed.pool.query<{ n: string }>('select count(*) as n from invoicing.invoices where period = $1', [PERIOD]);
    assert.equal(Number(rows[0]!.n), FINALIZE_CHUNK_ACCOUNTS, 'the first chunk, and only it, was committed');
    // Part of the month, which a control row matching it would make look complete: refused, nothing on stdout.
    const partial = await vaultExport(killed);
    assert.deepEqual({ code: partial.code, stdout: partial.stdout }, { code: 1, stdout: '' });
    assert.match(partial.stderr, new RegExp(`the finalize of ${PERIOD} that started at .* has not completed`));

    let summary = '';
    const rerun = vaultFinalize(killed, (line) => {
      if (line.startsWith('finalized ')) summary = line;
    });
    assert.equal(await rerun.exit, 0);
    assert.match(
      summary,
      new RegExp(
        `^finalized ${ACCOUNTS - FINALIZE_CHUNK_ACCOUNTS} invoice\\(s\\) for ${PERIOD} .*; ${FINALIZE_CHUNK_ACCOUNTS} already finalized;`,
      ),
    );
    const exported = await vaultExport(killed);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, new RegExp(`\r\nTOTAL,${ACCOUNTS},`), 'the whole month, once the run that completes it has');
    const [a, b] = [await canonicalDump(killed.pool), await canonicalDump(whole.pool)];
    assert.equal(a.invoices.length, ACCOUNTS);
    assert.ok(a.credits.length > ACCOUNTS / 100, 'credit was applied');
    assert.deepEqual(a, b);
  });
});
