// An app loop whose pass finds its session lock held by another pass (another replica, a CLI run)
// longer than the loop's bound: before, the timeout was the pass failing (an error line, alert noise)
// after a 30-minute wait. Now the loop waits its own bound, says "another pass is running" at info,
// and runs on a later tick. The email sender's loop, its lock held by a real PostgreSQL session.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { withTransaction } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { startEmailSender } from '../src/email/sender.ts';
import { invoiceNotice } from '../src/notices/notice.ts';
import { recordNotices } from '../src/notices/outbox.ts';
import { chargingDatabase } from './charging-fixture.ts';
import { assertSkippedAtInfo } from './lock-busy-lines.ts';

const SEND_LOCK = 0x76_6d_61_6c; // sender.ts's "vmal"

describe("an app loop whose lock another pass holds past the loop's bound (real PostgreSQL)", () => {
  let db: TestDatabase;
  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db?.drop());

  test('the email sender says "another pass is running" at info, not an error, and sends on a later tick', {
    timeout: 30_000,
  }, async () => {
    const invoice = {
      id: 'inv-busy',
      accountId: 'acct-busy',
      number: '2026-10-000001',
      period: '2026-10',
      currency: 'USD',
      total: '52.58',
      status: 'finalized',
    };
    await withTransaction(db.pool, (client) =>
      recordNotices(client, [invoiceNotice('invoice.finalized', invoice, new Date('2026-11-04T00:00:00Z'))]),
    );
    const other = new pg.Client({ connectionString: db.url, application_name: 'other-sender' });
    await other.connect();
    await other.query('select pg_advisory_lock($1)', [SEND_LOCK]);
    const log = memoryLogger();
    const loop = startEmailSender({
      pool: db.pool,
      log,
      mailer: undefined,
      from: 'billing@vault.invalid',
      invoicingUrl: 'http://localhost:3000',
      everyMs: 50,
      lockWaitMs: 200,
    });
    const state = async () =>
      (await db.pool.query<{ state: string }>(`select state from invoicing.email_deliveries where account_id = 'acct-busy'`)).rows[0]
        ?.state;
    try {
      // Held for a while, several of the loop's bounds.
      await new Promise((r) => setTimeout(r, 1_200));
      assert.equal(await state(), 'pending', 'nothing sent while another pass holds the lock');
      await other.end();
      for (let i = 0; i < 100 && (await state()) === 'pending'; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await state(), 'logged', 'sent on a later tick');
    } finally {
      await loop.stop();
      await other.end().catch(() => {});
    }
    assertSkippedAtInfo(log.lines, 'email.pass_skipped', 'other-sender');
    assert.deepEqual(
      log.lines.filter((l) => /at=(error|warn)/.test(l)),
      [],
      'no error or warning: nothing is wrong',
    );
  });
});
