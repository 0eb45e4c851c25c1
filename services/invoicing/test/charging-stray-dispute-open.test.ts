// A stray still held is warned once a day with what to run (stray-still-held.ts). While its chargeback is
// open the gateway refuses any refund, and vault refund-stray refuses too (exit 1): the line said to run
// it all the same, and each day's warning counted as unanswered (vault charge exit 1) for the life of the
// dispute. Now the line names the dispute and its status, says to wait for it, and the pass is not left
// after an error for it; once the dispute is lost the money is back and the invoice is charged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass, type ChargerDeps } from '../src/charging/charger.ts';
import { chargingDatabase, FakeGateway, statusOf } from './charging-fixture.ts';
import { heldByTheCharger } from './stray-held-fixture.ts';

const DAY_MS = 86_400_000;

describe('a stray still held under an open dispute (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  let clock = new Date('2026-11-05T00:00:00Z');
  const pass = (gateway: FakeGateway, over: Partial<ChargerDeps> = {}) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: [60, 120], log: memoryLogger(), now: () => clock, ...over });
  const warnedBy = async (gateway: FakeGateway) => {
    const log = memoryLogger();
    const report = await pass(gateway, { log });
    return { report, lines: log.lines.filter((l) => l.includes('event=charge.stray_still_held')), all: log.lines };
  };

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db.drop());

  test('each day: warned naming the dispute and its status, not "run vault refund-stray", not counted unanswered; lost, the invoice is charged', async () => {
    const gateway = new FakeGateway();
    const id = 'stray-disputed';
    const intent = (await heldByTheCharger(db.pool, gateway, id, (g) => pass(g)))?.payment_intent_id as string;
    const held = clock;
    gateway.disputedAtGateway(intent, 'dp_open', 50, 'needs_response');

    for (const day of [1, 2, 3]) {
      clock = new Date(held.getTime() + day * DAY_MS + 60_000);
      const { report, lines, all } = await warnedBy(gateway);
      assert.equal(lines.length, 1, `day ${day}: ${all.join('\n')}`);
      assert.match(lines[0]!, /^at=warn event=charge\.stray_still_held invoice_id=stray-disputed /);
      assert.match(
        lines[0]!,
        / dispute_open=dp_open status=needs_response run="nothing yet: wait for dispute dp_open to close, or answer it at the gateway/,
      );
      assert.doesNotMatch(lines[0]!, /run="vault refund-stray/, 'no command that refuses while the dispute is open');
      assert.match(lines[0]!, new RegExp(` held_for=${day}d0h `));
      assert.match(lines[0]!, /count#charges\.stray_still_held=1/);
      assert.equal(report.errors, 0, `day ${day}: not left after an error (vault charge exits 0)`);
      assert.ok(
        all.some((l) => /event=charging\.pass .*count#charges\.unanswered=0/.test(l)),
        all.join('\n'),
      );
    }

    // The bank decides for the cardholder: the 0.50 is back with them, the stray let go, the invoice charged.
    gateway.disputedAtGateway(intent, 'dp_open', 50, 'lost');
    clock = new Date(clock.getTime() + 3_600_000);
    const lost = await warnedBy(gateway);
    assert.deepEqual([lost.lines, lost.report.paid, lost.report.errors], [[], 1, 0]);
    assert.equal(await statusOf(db.pool, id), 'paid');
  });
});
