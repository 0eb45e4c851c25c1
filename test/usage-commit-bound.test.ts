// Review R2, finding 1 (docs/contracts/metering.md, "Usage commits within a bound of
// its learned_at"; invoicing.md, "Finalize schedule"). A row's learned_at is its
// metering transaction's start; invoicing's schedule skips a month with nothing
// learned since its last run's snapshot less an hour. A batch stuck on a lock that
// began before a run and committed after it, over an hour later, carried a learned_at
// the schedule never looks at: the month was skipped for ever, a whole invoice never
// made. Now the consumer's transaction is cut at its limit, rolled back, and handed
// again by the bus: the batch commits once, learned by the transaction that commits.
// The real consumer on the embedded bus and real PostgreSQL, metering's and
// invoicing's schemas in one database as deployed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { createEmbeddedBus, type Consumer, type EmbeddedBus } from '@vault/bus';
import { memoryLogger } from '@vault/runtime';
import { eventually, uniqueName, type TestDatabase } from '@vault/testkit';
import { createBilling } from '../services/invoicing/src/billing/service.ts';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { startSchedule } from '../services/invoicing/src/billing/schedule.ts';
import { billingDatabase } from '../services/invoicing/test/seed.ts';
import { startConsumer } from '../services/metering/src/consumer/consume.ts';
import { HORIZON_LOCK } from '../services/metering/src/consumer/usage-horizon.ts';

const CLOCK = '2026-11-20T00:00:00Z';
const now = () => DateTime.fromISO(CLOCK, { zone: 'utc' });
const prices = loadPriceBook();
const LIMIT_MS = 1_500;

const event = (id: string, source: string, type: string, time: string, subject: string, sequence: number, data: object) => ({
  key: subject,
  value: JSON.stringify({ specversion: '1.0', id, source, type, time, subject, sequence, data }),
});
/** An app owned by `account` from September, its web dyno running `from` → `to`. */
const appEvents = (n: number, account: string, from: string, to: string) => [
  event(`own-${n}`, 'app-registry', 'app.owner_changed', '2026-09-15T00:00:00Z', `app-${n}`, 1, {
    app_id: `app-${n}`,
    account_id: account,
  }),
  event(`start-${n}`, 'dyno-manager', 'dyno.started', from, `dyno-${n}`, 1, { app_id: `app-${n}`, name: 'web.1', size: 'basic' }),
  event(`stop-${n}`, 'dyno-manager', 'dyno.stopped', to, `dyno-${n}`, 2, { app_id: `app-${n}` }),
];

const invoicesOf = async (pool: pg.Pool, account: string) =>
  (
    await pool.query<{ p: string; t: string }>(
      'select period as p, total::text as t from invoicing.invoices where account_id = $1 order by 1',
      [account],
    )
  ).rows.map((r) => `${r.p} ${r.t}`);

describe('a metering batch held past its transaction limit (real consumer, embedded bus, real PostgreSQL)', () => {
  let db: TestDatabase;
  let bus: EmbeddedBus;
  let consumer: Consumer | undefined;
  let locker: pg.PoolClient | undefined;
  const log = memoryLogger();
  before(async () => {
    db = await billingDatabase();
    bus = await createEmbeddedBus({ pool: db.pool, url: db.url });
  });
  after(async () => {
    locker?.release();
    await consumer?.stop();
    await bus?.close();
    await db?.drop();
  });

  test('is cut and never commits; applied once afterwards, learned no earlier than the limit before the run it missed, so the next tick finalizes its month as a forced finalize does', {
    timeout: 120_000,
  }, async () => {
    const pool = db.pool;
    const topic = uniqueName('billing');
    await bus.ensureTopic(topic, 1);
    consumer = await startConsumer({ bus, pool, topic, log, groupId: uniqueName('metering'), transactionLimitMs: LIMIT_MS });
    await bus.publish(topic, appEvents(1, 'acct-1', '2026-10-01T00:00:00Z', '2026-10-20T00:00:00Z'));
    await eventually(
      'acct-1 applied',
      async () => (await pool.query(`select from metering.app_ownership where app_id = 'app-1'`)).rowCount === 1,
      30_000,
    );

    // A session holding the usage horizon's lock (as a stuck archive would): every batch waits on it.
    locker = await pool.connect();
    await locker.query('select pg_advisory_lock($1)', [HORIZON_LOCK]);
    await bus.publish(topic, appEvents(2, 'acct-2', '2026-10-01T00:00:00Z', '2026-10-31T00:00:00Z'));
    await eventually(
      "acct-2's batch waiting on the lock",
      async () =>
        (
          await pool.query(
            `select from pg_stat_activity where wait_event_type = 'Lock' and wait_event = 'advisory' and pid <> pg_backend_pid()`,
          )
        ).rowCount! > 0,
      30_000,
    );
    // The batch's transaction began before the run below, and outlives its limit.
    await new Promise((r) => setTimeout(r, LIMIT_MS + 1_000));
    const run = await createBilling({ pool, prices, graceHours: 72, now }).finalize('2026-10');
    assert.equal(run.finalized, 1);
    const note = (
      await pool.query<{ s: Date; held: number }>(`select snapshot_at as s, held from invoicing.finalize_complete where period = '2026-10'`)
    ).rows[0]!;
    assert.equal(note.held, 0);
    await locker.query('select pg_advisory_unlock($1)', [HORIZON_LOCK]);
    await eventually(
      'acct-2 applied',
      async () => (await pool.query(`select from metering.app_ownership where app_id = 'app-2'`)).rowCount === 1,
      30_000,
    );

    // Cut, not committed: a commit of the held transaction would date its rows at its start, more than the
    // limit before the run's snapshot. The one that commits began at most the limit before it (it too may wait).
    assert.ok(
      log.lines.some((l) => /at=warn event=batch\.cut .*limit_ms=1500 /.test(l)),
      log.lines.join('\n'),
    );
    const learned = await pool.query<{ t: string; learned_at: Date }>(
      `select 'usage' as t, learned_at from metering.usage_intervals where app_id = 'app-2'
       union all select 'owner', learned_at from metering.app_ownership where app_id = 'app-2'
       union all select 'event', received_at from metering.events where subject in ('app-2', 'dyno-2')`,
    );
    assert.equal(learned.rows.length, 5, JSON.stringify(learned.rows));
    const floor = note.s.getTime() - LIMIT_MS;
    for (const r of learned.rows)
      assert.ok(
        r.learned_at.getTime() > floor,
        `${r.t} learned ${r.learned_at.toISOString()}, the run's snapshot ${note.s.toISOString()} less the limit`,
      );
    // Nothing lost or doubled: each message applied once, none a duplicate.
    const counts = await pool.query<{ applied: string; duplicate: string }>(
      'select sum(applied)::text as applied, sum(duplicate)::text as duplicate from metering.message_counts',
    );
    assert.deepEqual(counts.rows[0], { applied: '6', duplicate: '0' });

    // The test's limit is seconds, production's 15 minutes under an hour's margin: every row dated back by
    // the margin less the limit, acct-2's are as late as the schedule can meet them were the limit the whole
    // margin, and a held transaction's commit (more than the limit before the snapshot) falls outside it.
    const back = `${3_600_000 - LIMIT_MS} milliseconds`;
    await pool.query(`update metering.usage_intervals set learned_at = learned_at - $1::interval`, [back]);
    await pool.query(`update metering.app_ownership set learned_at = learned_at - $1::interval`, [back]);
    const tickLog = memoryLogger();
    const billing = createBilling({ pool, prices, graceHours: 72, now, log: tickLog });
    const schedule = startSchedule({ pool, billing, graceHours: 72, everyMs: 3_600_000, log: tickLog, now });
    try {
      await eventually('a tick', async () => tickLog.lines.some((l) => l.includes('invoicing.schedule_tick')), 60_000);
    } finally {
      await schedule.stop();
    }
    const afterTick = await invoicesOf(pool, 'acct-2');
    await createBilling({ pool, prices, graceHours: 72, now }).finalize('2026-10');
    assert.deepEqual(afterTick, await invoicesOf(pool, 'acct-2'), 'the schedule skipped a month a forced finalize invoices');
    assert.equal(afterTick.length, 1);
  });
});
