// `vault finalize` and `vault charge` run one at a time with the app's own
// schedule (a session advisory lock each). An operator's command that found the
// app's run under way waited in silence, for as long as that run took, and
// looked hung: each now says once that it waits, and for whom, then goes on
// when the lock is free.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type pg from 'pg';
import { memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { FINALIZE_LOCK } from '../src/billing/finalize.ts';
import { createBilling } from '../src/billing/service.ts';
import { CHARGE_LOCK, chargePass } from '../src/charging/charger.ts';
import { chargingDatabase, FakeGateway } from './charging-fixture.ts';
import { billingDatabase } from './seed.ts';

describe('a finalize run or a charging pass that finds another one under way', () => {
  // Finalize reads metering's usage; charging reads cc-forms' cards.
  let billingDb: TestDatabase;
  let chargingDb: TestDatabase;
  before(async () => {
    billingDb = await billingDatabase();
    chargingDb = await chargingDatabase();
  });
  after(async () => {
    await billingDb?.drop();
    await chargingDb?.drop();
  });

  /** Holds `key` as another process would, runs `work` meanwhile, and releases it once `work` has said it waits. */
  async function whileHeld<T>(db: TestDatabase, key: number, log: ReturnType<typeof memoryLogger>, event: string, work: () => Promise<T>) {
    const holder: pg.PoolClient = await db.pool.connect();
    try {
      await holder.query(`set application_name = 'vault-invoicing-schedule'`);
      await holder.query('select pg_advisory_lock($1)', [key]);
      const pid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      let done = false;
      const running = work().finally(() => (done = true));
      await eventually(`${event} logged`, () => log.lines.some((l) => l.includes(`event=${event}`)));
      assert.equal(done, false, 'it waits for the lock');
      await holder.query('select pg_advisory_unlock($1)', [key]);
      const result = await running;
      const waiting = log.lines.filter((l) => l.includes(`event=${event}`));
      assert.equal(waiting.length, 1, 'said once');
      assert.ok(waiting[0]!.includes(`holder="pid ${pid} (vault-invoicing-schedule)"`), waiting[0]);
      return result;
    } finally {
      holder.release();
    }
  }

  test('vault finalize says it waits for another finalize run, naming its session (not one holding the key in another database), then finalizes', async () => {
    // The same key held in another database of the server (another environment's run, a test's) is not this
    // lock: four sessions hold it there (shared), and the line must still name the one holding it here.
    const elsewhere: pg.PoolClient[] = [];
    for (let i = 0; i < 4; i++) {
      const other = await chargingDb.pool.connect();
      elsewhere.push(other);
      await other.query(`set application_name = 'another-database'`);
      await other.query('select pg_advisory_lock_shared($1)', [FINALIZE_LOCK]);
    }
    try {
      await finalizeWhileHeld();
    } finally {
      for (const other of elsewhere) {
        await other.query('select pg_advisory_unlock_shared($1)', [FINALIZE_LOCK]);
        other.release();
      }
    }
  });

  async function finalizeWhileHeld() {
    const log = memoryLogger();
    const billing = createBilling({
      pool: billingDb.pool,
      prices: loadPriceBook(),
      graceHours: 72,
      now: () => DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' }),
      log,
    });
    const report = await whileHeld(billingDb, FINALIZE_LOCK, log, 'finalize.waiting', () => billing.finalize('2026-10'));
    assert.equal(report.period, '2026-10');
    assert.ok(log.lines.some((l) => l.includes('event=invoicing.finalized')));
  }

  test('vault charge says it waits for another charging pass, naming its session, then charges', async () => {
    const log = memoryLogger();
    const report = await whileHeld(chargingDb, CHARGE_LOCK, log, 'charge.waiting', () =>
      chargePass({ pool: chargingDb.pool, gateway: new FakeGateway(), retrySchedule: [60], log }),
    );
    assert.equal(report.errors, 0);
  });

  test('a lock that is free is taken without a word', async () => {
    const log = memoryLogger();
    await chargePass({ pool: chargingDb.pool, gateway: new FakeGateway(), retrySchedule: [60], log });
    assert.ok(!log.lines.some((l) => l.includes('.waiting')), log.lines.join('\n'));
  });
});
