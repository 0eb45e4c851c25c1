// A fraud block without a fingerprint whose card is no longer on file (replaced: the usual way) is
// read from the gateway by the charging pass (block-card-reads.ts). Bounded: a few a pass, one at a
// time, stopping at the first read the gateway does not answer; each claimed first, so a kill costs
// the claim's wait; a payment method the gateway says is gone, or a failed read, is asked again later,
// longer each try, never at every pass. A stand-in gateway whose reads the test answers; real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import type { BlockCardRead } from '../src/charging/block-card-reads.ts';
import { chargePass } from '../src/charging/charger.ts';
import { chargingDatabase, FakeGateway } from './charging-fixture.ts';

/** The in-memory gateway, its payment methods' fingerprints answered from `answers` (unlisted: gone). */
class ReadingGateway extends FakeGateway {
  asked: string[] = [];
  fingerprints = new Map<string, BlockCardRead>();
  async cardFingerprint(pm: string): Promise<BlockCardRead> {
    this.asked.push(pm);
    return this.fingerprints.get(pm) ?? 'gone';
  }
}

describe('blocks without a fingerprint are read from the gateway, a few a pass, with backoff (stand-in gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  const log = memoryLogger();
  let gateway: ReadingGateway;
  const pass = () => chargePass({ pool: db.pool, gateway, retrySchedule: [86_400], log, concurrency: 1 });
  const blockOf = (pm: string, minutesAgo: number) =>
    db.pool.query(
      `insert into invoicing.blocked_payment_methods (payment_method_id, fingerprint, account_id, dispute_id, reason, blocked_at)
       values ($1, null, 'acct-' || $1, 'dp_' || $1, 'fraudulent', now() - make_interval(mins => $2))`,
      [pm, minutesAgo],
    );
  const fingerprint = async (pm: string) =>
    (await db.pool.query('select fingerprint from invoicing.blocked_payment_methods where payment_method_id = $1', [pm])).rows[0]
      ?.fingerprint;
  const reads = async (pm: string) =>
    (
      await db.pool.query<{ tries: number; outcome: string; due_in_s: number }>(
        `select tries, outcome, round(extract(epoch from retry_at - now()))::int as due_in_s from invoicing.block_fingerprint_reads where payment_method_id = $1`,
        [pm],
      )
    ).rows;
  /** As if `seconds` had passed for every read's wait. */
  const later = (seconds: number) =>
    db.pool.query('update invoicing.block_fingerprint_reads set retry_at = retry_at - make_interval(secs => $1)', [seconds]);

  before(async () => {
    db = await chargingDatabase();
  });
  beforeEach(async () => {
    gateway = new ReadingGateway();
    await db.pool.query('delete from invoicing.blocked_payment_methods');
    await db.pool.query('delete from invoicing.block_fingerprint_reads');
  });
  after(() => db?.drop());

  test('filled from the gateway once, logged once; a block that has one is never read', async () => {
    await blockOf('pm_r1', 5);
    await db.pool.query(
      `insert into invoicing.blocked_payment_methods (payment_method_id, fingerprint, account_id, dispute_id, reason, blocked_at)
       values ('pm_has', 'fp_has', 'acct-has', 'dp_has', 'fraudulent', now())`,
    );
    gateway.fingerprints.set('pm_r1', { fingerprint: 'fp_r1' });
    await pass();
    await pass();
    assert.deepEqual(gateway.asked, ['pm_r1']);
    assert.equal(await fingerprint('pm_r1'), 'fp_r1');
    assert.deepEqual(await reads('pm_r1'), [], 'its reads are done with');
    const filled = log.lines.filter((l) => l.includes('event=charge.block_fingerprint_filled') && l.includes('payment_method=pm_r1 '));
    assert.deepEqual(filled, [
      'at=warn event=charge.block_fingerprint_filled payment_method=pm_r1 account_id=acct-pm_r1 dispute_id=dp_pm_r1 from=gateway count#charge.block_fingerprints_filled=1',
    ]);
  });

  test('a payment method the gateway says is gone: left without one, warned, asked again after an hour, then two, not at every pass', async () => {
    await blockOf('pm_gone', 5);
    await pass();
    await pass();
    assert.deepEqual(gateway.asked, ['pm_gone'], 'once, however many passes');
    assert.equal(await fingerprint('pm_gone'), null);
    assert.deepEqual(await reads('pm_gone'), [{ tries: 1, outcome: 'gone', due_in_s: 3600 }]);
    assert.match(
      log.lines.join('\n'),
      /at=warn event=charge\.block_fingerprint_gone payment_method=pm_gone account_id=acct-pm_gone dispute_id=dp_pm_gone tries=1 retry_in_s=3600 /,
    );
    await later(3600);
    await pass();
    assert.deepEqual(gateway.asked, ['pm_gone', 'pm_gone']);
    assert.deepEqual(await reads('pm_gone'), [{ tries: 2, outcome: 'gone', due_in_s: 7200 }]);
  });

  test('at most 5 a pass; the first read the gateway does not answer ends the pass’s reads, asked again a minute later', async () => {
    for (let i = 1; i <= 7; i++) await blockOf(`pm_b${i}`, 100 - i);
    for (let i = 1; i <= 7; i++) gateway.fingerprints.set(`pm_b${i}`, { fingerprint: `fp_b${i}` });
    gateway.fingerprints.set('pm_b2', { error: 'api_connection_error' });
    await pass();
    assert.deepEqual(gateway.asked, ['pm_b1', 'pm_b2'], 'stopped at the failure');
    assert.deepEqual(await reads('pm_b2'), [{ tries: 1, outcome: 'unanswered', due_in_s: 60 }]);
    assert.match(
      log.lines.join('\n'),
      /at=warn event=charge\.block_fingerprint_unread payment_method=pm_b2 .*code=api_connection_error retry_in_s=60/,
    );
    gateway.asked = [];
    await pass();
    assert.deepEqual(gateway.asked, ['pm_b3', 'pm_b4', 'pm_b5', 'pm_b6', 'pm_b7'], 'five a pass, the failed one waiting its minute');
    gateway.fingerprints.set('pm_b2', { fingerprint: 'fp_b2' });
    await later(60);
    gateway.asked = [];
    await pass();
    assert.deepEqual(gateway.asked, ['pm_b2']);
    for (let i = 1; i <= 7; i++) assert.equal(await fingerprint(`pm_b${i}`), `fp_b${i}`);
  });

  test('a kill mid-read: the claimed block is not read again until its claim lapses, then it is', async () => {
    await blockOf('pm_k', 5);
    // What a pass killed during the read leaves: the claim, its wait a minute.
    await db.pool.query(
      `insert into invoicing.block_fingerprint_reads (payment_method_id, tries, outcome, retry_at) values ('pm_k', 1, 'reading', now() + interval '60 seconds')`,
    );
    gateway.fingerprints.set('pm_k', { fingerprint: 'fp_k' });
    await pass();
    assert.deepEqual(gateway.asked, []);
    await later(60);
    await pass();
    assert.deepEqual(gateway.asked, ['pm_k']);
    assert.equal(await fingerprint('pm_k'), 'fp_k');
  });
});
