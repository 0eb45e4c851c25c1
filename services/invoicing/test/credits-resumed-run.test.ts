// A finalize run killed mid-month and run again settles the rest of the month
// at the new run's clock (invoicing.md, "A run resumed after a kill settles at
// its own clock"): the invoices the killed run committed keep the credit they
// were given, and a lot that expired between the two runs is written off by
// the new run before it settles, never used by it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import pg from 'pg';
import { eventually, type TestDatabase } from '@vault/testkit';
import { grantCredit } from '../src/billing/credit-store.ts';
import { FINALIZE_CHUNK_ACCOUNTS } from '../src/billing/finalize.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { generatedAccount, seedAccounts } from './finalize-fixture.ts';
import { billingDatabase } from './seed.ts';

const prices = loadPriceBook();
const PERIOD = '2026-03';
const FIRST = generatedAccount(1);
// The one account of the second chunk.
const SECOND = generatedAccount(FINALIZE_CHUNK_ACCOUNTS + 1);
const KILLED_RUN_CLOCK = '2026-04-04T00:00:00.000Z';
const EXPIRES = '2026-04-05T00:00:00.000Z';
const RESUMED_RUN_CLOCK = '2026-04-06T00:00:00.000Z';
// Less than either account's subtotal, so the killed run uses all of the first's lot.
const CREDIT = '0.50';
const at = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });

describe('a finalize run killed mid-month and run again', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await seedAccounts(db.pool, { start: '2026-03-01T00:00:00Z', end: '2026-04-01T00:00:00Z' }, FINALIZE_CHUNK_ACCOUNTS + 1);
    for (const accountId of [FIRST, SECOND]) {
      await grantCredit(db.pool, {
        grantId: `g-${accountId}`,
        accountId,
        amount: CREDIT,
        currency: 'USD',
        reason: 'test',
        expiresAt: new Date(EXPIRES),
        at: new Date('2026-03-15T00:00:00Z'),
      });
    }
  });
  after(() => db?.drop());

  test('the killed run’s invoices keep their credit; a lot that expired between the runs is written off, not used by the resumed one', async () => {
    // The killed run: its second chunk's session is ended while it waits on a lock the test holds on the
    // second account's grant, so the first chunk is committed and the second is not, as after a SIGKILL
    // (finalize-kill.test.ts kills the process; here the runs' clocks are the test's). Only that session:
    // ending the run's session lock ends this process, as it must.
    const killedPool = new pg.Pool({ connectionString: db.url, application_name: 'killed-run', max: 4 });
    // Its sessions' end is the point: the checked-out clients' errors are expected, not the test's.
    killedPool.on('error', () => {});
    killedPool.on('connect', (client) => client.on('error', () => {}));
    const holder = await db.pool.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from invoicing.credit_entries where grant_id = $1 for update', [`g-${SECOND}`]);
      const run = createBilling({ pool: killedPool, prices, graceHours: 72, now: () => at(KILLED_RUN_CLOCK) })
        .finalize(PERIOD)
        .then(
          () => 'completed',
          () => 'ended',
        );
      await eventually('the first chunk committed and the second waiting on the held grant', async () => {
        const { rows } = await db.pool.query<{ invoices: string; waiting: string }>(
          `select (select count(*) from invoicing.invoices where period = $1) as invoices,
                  (select count(*) from pg_stat_activity where application_name = 'killed-run' and wait_event_type = 'Lock') as waiting`,
          [PERIOD],
        );
        return Number(rows[0]!.invoices) === FINALIZE_CHUNK_ACCOUNTS && Number(rows[0]!.waiting) === 1;
      });
      await db.pool.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'killed-run' and wait_event_type = 'Lock'`,
      );
      assert.equal(await run, 'ended');
    } finally {
      await holder.query('rollback');
      holder.release();
      await killedPool.end().catch(() => {});
    }

    await createBilling({ pool: db.pool, prices, graceHours: 72, now: () => at(RESUMED_RUN_CLOCK) }).finalize(PERIOD);

    const invoice = async (accountId: string) =>
      (
        await db.pool.query<{ credit_applied: string; total: string; subtotal: string }>(
          `select subtotal::text, credit_applied::text, total::text from invoicing.invoices where account_id = $1 and period = $2`,
          [accountId, PERIOD],
        )
      ).rows[0]!;
    const first = await invoice(FIRST);
    assert.equal(first.credit_applied, CREDIT, 'the killed run’s committed invoice keeps the credit it was given');
    const second = await invoice(SECOND);
    assert.equal(second.credit_applied, '0.00', 'the resumed run settles at its own clock, after the lot expired');
    assert.equal(second.total, second.subtotal);

    const entries = async (accountId: string) =>
      (
        await db.pool.query<{ kind: string; amount: string; at: Date }>(
          `select kind, amount::text, at from invoicing.credit_entries where account_id = $1 order by at, kind`,
          [accountId],
        )
      ).rows.map((r) => [r.kind, r.amount, r.at.toISOString()]);
    assert.deepEqual(await entries(FIRST), [
      ['grant', CREDIT, '2026-03-15T00:00:00.000Z'],
      ['applied', `-${CREDIT}`, KILLED_RUN_CLOCK],
    ]);
    const second_ = await entries(SECOND);
    assert.equal(second_.length, 2, JSON.stringify(second_));
    assert.deepEqual(second_[0], ['grant', CREDIT, '2026-03-15T00:00:00.000Z']);
    assert.equal(second_[1]![0], 'expired');
    assert.equal(second_[1]![1], `-${CREDIT}`);
    assert.ok(
      second_[1]![2]! <= RESUMED_RUN_CLOCK && second_[1]![2]! >= EXPIRES,
      `written off between the expiry and the resumed run: ${second_[1]![2]}`,
    );
  });
});
