// Finance review: credits.csv of a month is "final" once no entry dated in it
// can be written (credits-final.ts). A grant took no lock: dated 23:59:59.999
// by billing's clock and committed a few milliseconds after midnight, it came
// after the check and the month's file missed it; taken again later, the file
// had it. And a grant or a reversal that read its clock before its lock, then
// waited for the check, was dated in the month and committed after it. Real
// PostgreSQL, two connections interleaving: the export (its check) and the
// grant or reversal.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type pg from 'pg';
import type { TestDatabase } from '@vault/testkit';
import { type CreditDeps, grant, reverse } from '../src/billing/credits.ts';
import { FINALIZE_LOCK } from '../src/billing/finalize.ts';
import { GRANT_LOCK } from '../src/billing/grant-lock.ts';
import { CreditsNotFinalError } from '../src/exports/credits-final.ts';
import { exportCsv } from '../src/exports/index.ts';
import { collect } from './exports-fixture.ts';
import { billingDatabase } from './seed.ts';

const LAST_MS = DateTime.fromISO('2026-11-30T23:59:59.999Z', { zone: 'utc' });
const AFTER_MIDNIGHT = DateTime.fromISO('2026-12-01T00:00:00.002Z', { zone: 'utc' });
// The first instant the month's file is final (its end and the writers' clock margin): the grants
// dated 23:59:59.999 below come from a clock that far behind the exporting one's.
const exportNow = () => new Date('2026-12-01T00:05:00.001Z');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until a backend of this database waits for a lock of `event` ('advisory', 'transactionid'), or `done()`. */
async function waitingOn(pool: pg.Pool, event: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) {
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and wait_event = $1`,
      [event],
    );
    if (rows[0]!.n > 0) return;
    await sleep(25);
  }
}

/**
 * `pool`, except that the export's `begin` (the statement after its check took
 * the ledger's locks, before its snapshot) first runs `meanwhile`, once.
 */
function pausedAtSnapshot(pool: pg.Pool, meanwhile: () => Promise<void>): pg.Pool {
  let ran = false;
  const wrapClient = (client: pg.PoolClient) =>
    new Proxy(client, {
      get(target, prop) {
        if (prop === 'query') {
          return async (...args: unknown[]) => {
            if (!ran && typeof args[0] === 'string' && args[0].startsWith('begin isolation level repeatable read')) {
              ran = true;
              await meanwhile();
            }
            return (target.query as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  return new Proxy(pool, {
    get(target, prop) {
      if (prop === 'connect') return async () => wrapClient(await target.connect());
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('credits.csv and a grant or reversal at the month’s end (real PostgreSQL)', () => {
  let db: TestDatabase;
  let clock = LAST_MS;
  let deps: CreditDeps;
  const november = () => collect(exportCsv(db.pool, 'credits', '2026-11', { now: exportNow }));
  const grantedAt = async (grantId: string) =>
    (await db.pool.query<{ at: Date }>('select at from invoicing.credit_entries where grant_id = $1', [grantId])).rows[0]?.at;

  before(async () => {
    db = await billingDatabase();
    deps = { pool: db.pool, currency: 'USD', now: () => clock };
    // The grant the reversal test takes back: made before November's file is first taken (a grant
    // dated in November after that is refused, credits-taken-month.test.ts).
    clock = DateTime.fromISO('2026-11-20T00:00:00Z', { zone: 'utc' });
    await grant(deps, 'acct-edge', { id: 'g-rev', amount: '4.00', reason: 'goodwill', new_account: true });
  });
  after(() => db?.drop());

  test('a grant dated 23:59:59.999 still being committed when the check runs: the check waits for it, and the file has it', async () => {
    clock = LAST_MS;
    // Another connection holds an uncommitted entry with the grant's id: the grant, dated
    // already, waits at its insert for it (as for any slow commit), its transaction open.
    const other = await db.pool.connect();
    try {
      await other.query('begin');
      await other.query(
        `insert into invoicing.credit_entries (id, account_id, kind, amount, currency, grant_id, reason, at)
         values ('cr_blocker', 'acct-edge', 'grant', 1.00, 'USD', 'g-edge', 'blocker', now())`,
      );
      const granting = grant(deps, 'acct-edge', { id: 'g-edge', amount: '7.00', reason: 'goodwill', new_account: true });
      await waitingOn(db.pool, 'transactionid', () => false);
      // The check, after midnight, while the grant is open.
      let exported = false;
      const first = november().finally(() => {
        exported = true;
      });
      for (let i = 0; i < 40 && !exported; i++) await sleep(25);
      // The grant commits.
      await other.query('rollback');
      const granted = await granting;
      assert.equal(granted.outcome, 'created');
      assert.equal(granted.grant.granted_at, '2026-11-30T23:59:59.999Z');
      const file = await first;
      assert.match(file, /g-edge/, 'the grant dated in November is in November’s file');
      assert.equal(await november(), file, 'taken again, the file is the same');
    } finally {
      other.release();
    }
  });

  test('a grant asked for while the check holds the ledger waits for it and is dated after it, in December', async () => {
    clock = LAST_MS;
    let granting: Promise<unknown> | undefined;
    let settled = false;
    const paused = pausedAtSnapshot(db.pool, async () => {
      granting = grant(deps, 'acct-edge', { id: 'g-wait', amount: '3.00', reason: 'goodwill', new_account: true }).finally(() => {
        settled = true;
      });
      await waitingOn(db.pool, 'advisory', () => settled);
      // Time moves on while the grant waits.
      clock = AFTER_MIDNIGHT;
    });
    const file = await collect(exportCsv(paused, 'credits', '2026-11', { now: exportNow }));
    await granting;
    assert.deepEqual(await grantedAt('g-wait'), AFTER_MIDNIGHT.toJSDate());
    assert.doesNotMatch(file, /g-wait/);
    assert.equal(await november(), file, 'taken again, November’s file is the same');
  });

  test('a reversal asked for while the check holds the ledger waits for it and is dated after it, in December', async () => {
    clock = LAST_MS;
    let reversing: Promise<unknown> | undefined;
    let settled = false;
    const paused = pausedAtSnapshot(db.pool, async () => {
      reversing = reverse(deps, 'acct-edge', 'g-rev', { reason: 'granted in error' }).finally(() => {
        settled = true;
      });
      await waitingOn(db.pool, 'advisory', () => settled);
      clock = AFTER_MIDNIGHT;
    });
    const file = await collect(exportCsv(paused, 'credits', '2026-11', { now: exportNow }));
    const reversed = (await reversing) as Awaited<ReturnType<typeof reverse>>;
    assert.equal(reversed.reversal.reversed_at, '2026-12-01T00:00:00.002Z');
    assert.doesNotMatch(file, /granted in error/);
    assert.equal(await november(), file, 'taken again, November’s file is the same');
  });

  test('a grant that holds its lock longer than the export waits: refused naming it (409), nothing left held', async () => {
    const granting = await db.pool.connect();
    try {
      await granting.query('begin');
      await granting.query('select pg_advisory_xact_lock_shared($1)', [GRANT_LOCK]);
      await assert.rejects(collect(exportCsv(db.pool, 'credits', '2026-11', { now: exportNow, ledgerWaitMs: 300 })), (err: unknown) => {
        assert.ok(err instanceof CreditsNotFinalError, String(err));
        assert.equal(err.statusCode, 409);
        assert.match(err.message, /^credits.csv of 2026-11: a credit grant is being recorded/);
        return true;
      });
      await granting.query('commit');
      // The export let go of finalize's lock too: a run takes it at once.
      const { rows } = await granting.query<{ got: boolean }>('select pg_try_advisory_lock($1) as got', [FINALIZE_LOCK]);
      assert.equal(rows[0]!.got, true);
      await granting.query('select pg_advisory_unlock_all()');
      assert.match(await november(), /^at,id,/);
    } finally {
      granting.release();
    }
  });
});
