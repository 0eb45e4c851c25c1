// The app's finalize schedule while another finalize run holds FINALIZE_LOCK (a hung replica, a
// session left open behind a pooler): it waited for the lock without a bound, said `finalize.waiting`
// once and then nothing, months were not finalized and the loop could not stop. Now a tick waits the
// loop's bound, says "another pass is running" at info, and finalizes on a later tick. `vault finalize`
// still waits without a bound (finalize.ts). The lock held by a real PostgreSQL session.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import pg from 'pg';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { FINALIZE_LOCK } from '../src/billing/finalize.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { startSchedule } from '../src/billing/schedule.ts';
import { createBilling } from '../src/billing/service.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';
import { assertSkippedAtInfo } from './lock-busy-lines.ts';

const prices = loadPriceBook();
const now = () => DateTime.fromISO('2026-11-10T00:00:00Z', { zone: 'utc' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the finalize schedule while another session holds the finalize lock (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await seedOwners(db.pool, [{ app: 'busy-app', account: 'acct-busy', from: '2026-10-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      { app: 'busy-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z', to: '2026-10-11T00:00:00Z' },
    ]);
  });
  after(() => db?.drop());

  const invoices = async () =>
    Number((await db.pool.query<{ n: string }>(`select count(*) as n from invoicing.invoices where period = '2026-10'`)).rows[0]!.n);

  async function holder(): Promise<pg.Client> {
    const other = new pg.Client({ connectionString: db.url, application_name: 'hung-finalize' });
    await other.connect();
    await other.query('select pg_advisory_lock($1)', [FINALIZE_LOCK]);
    return other;
  }

  const schedule = (log: ReturnType<typeof memoryLogger>) =>
    startSchedule({
      pool: db.pool,
      billing: createBilling({ pool: db.pool, prices, graceHours: 72, now, log }),
      graceHours: 72,
      everyMs: 50,
      log,
      now,
      lockWaitMs: 200,
    });

  test('a tick gives up after its bound at info, tries again, and finalizes on a later tick once the lock is free', {
    timeout: 30_000,
  }, async () => {
    const other = await holder();
    const log = memoryLogger();
    const loop = schedule(log);
    try {
      // The first tick is a second after start; then several of the loop's bounds.
      await sleep(2_000);
      assert.equal(await invoices(), 0, 'nothing finalized while another run holds the lock');
      await other.end();
      for (let i = 0; i < 100 && (await invoices()) === 0; i++) await sleep(50);
      assert.equal(await invoices(), 1, 'finalized on a later tick');
    } finally {
      await loop.stop();
      await other.end().catch(() => {});
    }
    assertSkippedAtInfo(log.lines, 'invoicing.schedule_skipped', 'hung-finalize');
    assert.ok(
      log.lines.some((l) => l.includes('event=invoicing.schedule_tick')),
      'a tick completed after the lock was let go',
    );
    assert.deepEqual(
      log.lines.filter((l) => /at=(error|warn)/.test(l)),
      [],
      'no error or warning: nothing is wrong yet',
    );
  });

  test('the loop stops promptly while the lock is held (it used to wait for ever, then the app exited 1)', {
    timeout: 30_000,
  }, async () => {
    const other = await holder();
    const loop = schedule(memoryLogger());
    try {
      // Into the first tick's wait.
      await sleep(1_100);
      const stopped = await Promise.race([loop.stop().then(() => true), sleep(2_000).then(() => false)]);
      assert.ok(stopped, 'loop.stop() resolved within the bound, not after the holder let go');
    } finally {
      await other.end();
      await loop.stop();
    }
  });
});
