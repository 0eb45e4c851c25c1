// A charging pass whose page read after the first fails (here a lock another session holds on a table the
// candidates read, with a lock_timeout on the pass's sessions: a migration queued, say) still logs its
// `charging.pass` summary, saying what it charged before and why it stopped, and still fails.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass } from '../src/charging/charger.ts';
import { chargingDatabase, FakeGateway, novemberInvoice, putCard, statusOf } from './charging-fixture.ts';

describe('a charging pass whose second page read fails (real PostgreSQL)', () => {
  let db: TestDatabase;
  /** The pass's own sessions: a lock waited on longer than 500 ms fails its statement (55P03). */
  let passPool: pg.Pool;

  before(async () => {
    db = await chargingDatabase();
    passPool = new pg.Pool({ connectionString: db.url, max: 4, options: '-c lock_timeout=500' });
    passPool.on('error', () => {});
    // Three due invoices, finalized in this order: pages of two read the first two, then the third.
    for (const id of ['inv-a', 'inv-b', 'inv-c']) {
      await novemberInvoice(db.pool, id, `acct-${id}`);
      await putCard(db.pool, `acct-${id}`, `pm_ok_${id}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  after(async () => {
    await passPool?.end();
    await db?.drop();
  });

  test('logs its charging.pass summary at error with what the first page charged, failed=true and the cause, then throws', async () => {
    const gateway = new FakeGateway();
    const log = memoryLogger();
    const locker = await db.pool.connect();
    let calls = 0;
    // As inv-b's confirm (the first page's last request) is sent, another session takes the table the
    // candidates read for blocked cards and holds it: inv-b's answer is still written, the next page's read waits.
    gateway.beforeSend = async (invoiceId) => {
      if (invoiceId !== 'inv-b' || ++calls !== 2) return;
      await locker.query('begin');
      await locker.query('lock table invoicing.blocked_payment_methods in access exclusive mode');
    };
    try {
      await assert.rejects(
        chargePass({ pool: passPool, gateway, retrySchedule: [60, 120], log, concurrency: 1, candidatePage: 2 }),
        (err: Error & { code?: string }) => err.code === '55P03' && /lock timeout/.test(err.message),
        'the pass still fails: the loop logs charging.pass_failed and `vault charge` exits 1',
      );
    } finally {
      await locker.query('rollback').catch(() => undefined);
      locker.release();
    }

    assert.equal(calls, 2, 'the lock was taken at inv-b’s confirm');
    const said = log.lines.join('\n');
    const summaries = log.lines.filter((l) => / event=charging\.pass /.test(l));
    assert.equal(summaries.length, 1, said);
    const line = summaries[0]!;
    assert.match(line, /^at=error event=charging\.pass /, said);
    for (const field of [
      'count#charging.candidates=2',
      'count#charges.attempted=2',
      'count#charges.paid=2',
      'count#charges.declined=0',
      'count#charges.unanswered=0',
      'failed=true',
      'pages_read=1',
      'error_code=55P03',
      'error="canceling statement due to lock timeout"',
    ]) {
      assert.ok(line.split(' ').includes(field) || line.includes(` ${field}`), `${field} in: ${line}`);
    }
    assert.match(line, / measure#charging\.pass=\d+ms /);
    assert.doesNotMatch(line, /select|invoicing\.|postgres(ql)?:\/\//i, 'no statement text nor connection string');
    assert.equal(log.lines.filter((l) => l.includes('event=charge.failed')).length, 0, 'no invoice failed: the page read did');

    // What the summary says is what was done: the first page paid, the third left for the next pass.
    assert.equal(await statusOf(db.pool, 'inv-a'), 'paid');
    assert.equal(await statusOf(db.pool, 'inv-b'), 'paid');
    assert.equal(await statusOf(db.pool, 'inv-c'), 'finalized');
    assert.deepEqual(gateway.sent, ['inv-a', 'inv-a:attempt:1', 'inv-b', 'inv-b:attempt:1']);

    // The lock gone, the next pass charges what was left, its summary at info without `failed`.
    const next = memoryLogger();
    const report = await chargePass({ pool: passPool, gateway, retrySchedule: [60, 120], log: next, concurrency: 1, candidatePage: 2 });
    assert.equal(report.paid, 1);
    assert.equal(await statusOf(db.pool, 'inv-c'), 'paid');
    const ok = next.lines.filter((l) => / event=charging\.pass /.test(l));
    assert.equal(ok.length, 1);
    assert.match(ok[0]!, /^at=info event=charging\.pass count#charging\.candidates=1 /);
    assert.doesNotMatch(ok[0]!, /failed=/);
  });
});
