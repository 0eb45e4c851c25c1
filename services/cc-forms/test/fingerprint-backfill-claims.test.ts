// Two cc-forms processes ticking together pick the same card to read first: the one that loses the
// claim got "nothing due" and ended its whole tick, so only one process ever made progress. Now a lost
// claim goes on with the next card (cards/fingerprint-backfill.ts). Real PostgreSQL: the other
// process's claim is a transaction held open on the first card while this tick looks; a stand-in
// reader (the gateway's part is fingerprint-backfill.test.ts's).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { migrate } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import { eventually, freshDatabase, type TestDatabase } from '@vault/testkit';
import { backfillFingerprints, type FingerprintReader } from '../src/cards/fingerprint-backfill.ts';
import { CC_FORMS_MIGRATIONS } from './world.ts';

describe('a claim lost to another process does not end the tick (real PostgreSQL)', () => {
  let db: TestDatabase;
  const log = memoryLogger();

  before(async () => {
    db = await freshDatabase('ccf_fp_claims');
    await migrate(db.pool, 'cc_forms', CC_FORMS_MIGRATIONS);
  });
  after(() => db?.drop());

  test('the card the other process claims is left to it; this tick reads the others', async () => {
    // Three cards saved before 007 (no fingerprint), pm_claim_a the oldest: both processes pick it first.
    for (const [i, x] of ['a', 'b', 'c'].entries()) {
      await db.pool.query('insert into cc_forms.customers (account_id, customer_id) values ($1, $2)', [
        `acct-claim-${x}`,
        `cus_claim_${x}`,
      ]);
      await db.pool.query(
        `insert into cc_forms.cards (account_id, customer_id, payment_method_id, setup_intent_id, brand, last4, exp_month, exp_year, added_at)
         values ($1, $2, $3, $4, 'visa', '4242', 12, 2034, now() - make_interval(mins => $5))`,
        [`acct-claim-${x}`, `cus_claim_${x}`, `pm_claim_${x}`, `seti_claim_${x}`, 10 - i],
      );
    }
    const asked: string[] = [];
    const read: FingerprintReader = async (pm) => {
      asked.push(pm);
      return { fingerprint: `fp_${pm}` };
    };

    // The other process's claim of pm_claim_a, not committed yet when this tick looks.
    const other = await db.pool.connect();
    try {
      await other.query('begin');
      await other.query(
        `insert into cc_forms.card_fingerprint_reads (payment_method_id, tries, outcome, retry_at) values ('pm_claim_a', 1, 'reading', now() + interval '60 seconds')`,
      );
      const tick = backfillFingerprints({ pool: db.pool, log, read, cardsPerTick: 5 });
      // This tick's claim of pm_claim_a waits on the other's row; then the other commits.
      await eventually(
        'the tick waiting on the other claim',
        async () =>
          (
            await db.pool.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
            )
          ).rows[0]!.n > 0,
        10_000,
      );
      await other.query('commit');
      const tally = await tick;
      assert.deepEqual(asked, ['pm_claim_b', 'pm_claim_c'], 'the others read, not the claimed one');
      assert.equal(tally.filled, 2);
    } finally {
      other.release();
    }
    const { rows } = await db.pool.query('select payment_method_id, fingerprint from cc_forms.cards order by payment_method_id');
    assert.deepEqual(rows, [
      { payment_method_id: 'pm_claim_a', fingerprint: null },
      { payment_method_id: 'pm_claim_b', fingerprint: 'fp_pm_claim_b' },
      { payment_method_id: 'pm_claim_c', fingerprint: 'fp_pm_claim_c' },
    ]);
  });
});
