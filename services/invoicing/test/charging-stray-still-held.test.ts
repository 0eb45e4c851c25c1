// A stray payment held on an invoice's charge row stops its dunning for good (never past due, the account
// never suspended for it). It was warned once, when held (`charge.stray`); later passes only looked for
// its refund and told nothing, so an operator who missed that line left the invoice unpaid for ever and
// the cardholder's wrong payment unreturned. While it stays held, a pass warns `charge.stray_still_held`
// once a day (stray-still-held.ts, migration 044), and a pass that warned it is left after an error.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { chargePass, type ChargerDeps } from '../src/charging/charger.ts';
import { warnStillHeld } from '../src/charging/stray-still-held.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, putCard, statusOf, ThreeDsGateway } from './charging-fixture.ts';
import { heldByTheCharger as heldByCharger } from './stray-held-fixture.ts';

const HOUR = 3600;
const DAY = 86_400;

describe('a stray payment still held is warned once a day until given back (in-memory gateway, real PostgreSQL)', () => {
  let db: TestDatabase;
  let clock = new Date('2026-11-05T00:00:00Z');
  const tick = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  const pass = (gateway: FakeGateway, over: Partial<ChargerDeps> = {}) =>
    chargePass({ pool: db.pool, gateway, retrySchedule: [60, 120], log: memoryLogger(), now: () => clock, ...over });
  /** A pass whose `charge.stray_still_held` lines are returned with its report. */
  const warnedBy = async (gateway: FakeGateway) => {
    const log = memoryLogger();
    const report = await pass(gateway, { log });
    return { report, lines: log.lines.filter((l) => l.includes('event=charge.stray_still_held')) };
  };
  /** The charger's confirm of a 52.58 invoice takes 0.50 (its PaymentIntent changed at the gateway): held. */
  const heldByTheCharger = async (gateway: FakeGateway, id: string) => {
    const row = await heldByCharger(db.pool, gateway, id, (g) => pass(g));
    assert.equal(row?.last_error_code, 'stray_payment');
    return row?.payment_intent_id as string;
  };

  before(async () => {
    db = await chargingDatabase();
  });
  after(() => db.drop());

  test('held: passes the same day warn it once (the hold’s charge.stray is that day’s); a day on, warned again with held_for and what to run, vault charge’s pass left after an error; two passes at once warn it once', async () => {
    const gateway = new FakeGateway();
    const held = clock;
    const intent = await heldByTheCharger(gateway, 'still-held');

    // The same day: every pass looks for its refund, none warns again, nothing is left after an error.
    for (const hours of [1, 5, 12]) {
      tick(hours * HOUR);
      const { report, lines } = await warnedBy(gateway);
      assert.deepEqual([lines, report.errors, report.charged], [[], 0, 0], `${hours}h on`);
    }

    // A day after the hold: warned, once, naming what to run; the pass exits as one left after an error.
    clock = new Date(held.getTime() + DAY * 1000 + 60_000);
    const first = await warnedBy(gateway);
    assert.equal(first.lines.length, 1, first.lines.join('\n'));
    assert.match(
      first.lines[0]!,
      new RegExp(
        `at=warn event=charge\\.stray_still_held invoice_id=still-held account_id=acct-still-held payment_intent=${intent} ` +
          'amount_received=0\\.50 currency=USD invoice_total=52\\.58 invoice_currency=USD ' +
          `held_since=${held.toISOString().replace(/\./g, '\\.')} held_for=1d0h run="vault refund-stray still-held" count#charges\\.stray_still_held=1`,
      ),
    );
    assert.equal(first.report.errors, 1, 'vault charge exits 1 on this pass');
    assert.equal(await statusOf(db.pool, 'still-held'), 'finalized', 'never past due for it');

    // Passes after it the same day, and one after a restart (nothing in memory: it is the row's), warn nothing.
    for (const hours of [1, 20]) {
      tick(hours * HOUR);
      const { report, lines } = await warnedBy(gateway);
      assert.deepEqual([lines, report.errors], [[], 0]);
    }

    // Two days after the hold, two passes at once (one waits for the other's lock): warned once, held for two days.
    clock = new Date(held.getTime() + 2 * DAY * 1000 + 2 * 60_000);
    const [a, b] = await Promise.all([warnedBy(gateway), warnedBy(gateway)]);
    const lines = [...a.lines, ...b.lines];
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, / held_for=2d0h /);
    assert.equal(gateway.keys.filter((k) => k.includes(':attempt:')).length, 1, 'never confirmed again');
  });

  test('two processes claiming the same day at once (without the pass’s lock) warn it once', async () => {
    const gateway = new FakeGateway();
    const intent = await heldByTheCharger(gateway, 'still-held-race');
    tick(DAY + 60);
    const read = await gateway.retrievePaymentIntent(intent);
    assert.ok(!('error' in read));
    const invoice = {
      id: 'still-held-race',
      accountId: 'acct-still-held-race',
      number: 'n',
      status: 'finalized' as const,
      currency: 'USD',
      total: '52.58',
    };
    const back = { refunded: 0, chargedBack: 0, disputes: [], whole: false };
    const log = memoryLogger();
    const won = await Promise.all(Array.from({ length: 4 }, () => warnStillHeld({ pool: db.pool, log }, invoice, read, back, clock)));
    assert.deepEqual(
      won.filter((w) => w),
      ['warned'],
    );
    assert.equal(log.lines.filter((l) => l.includes('event=charge.stray_still_held')).length, 1);
  });

  test('refunded in part it is still warned (amount_given_back); refunded in full it is released, charged once, and never warned again', async () => {
    const gateway = new FakeGateway();
    const intent = await heldByTheCharger(gateway, 'still-held-refunded');
    gateway.refundedAtGateway(intent, 20);
    tick(DAY + 60);
    const part = await warnedBy(gateway);
    assert.equal(part.lines.length, 1);
    assert.match(part.lines[0]!, /amount_received=0\.50 currency=USD amount_given_back=0\.20 invoice_total=52\.58 /);

    gateway.refundedAtGateway(intent, 30);
    tick(HOUR);
    const released = await warnedBy(gateway);
    assert.deepEqual([released.lines, released.report.paid, released.report.errors], [[], 1, 0]);
    assert.equal(await statusOf(db.pool, 'still-held-refunded'), 'paid');
    for (const days of [1, 2, 5]) {
      tick(days * DAY);
      const later = await warnedBy(gateway);
      assert.deepEqual([later.lines, later.report.errors, later.report.charged], [[], 0, 0]);
    }
  });

  test('a stray the cardholder made on our page (held from action_required, back to finalized) is warned a day on, as the charger’s', async () => {
    const gateway = new ThreeDsGateway();
    await insertInvoice(db.pool, { id: 'still-held-3ds', account: 'acct-still-held-3ds', total: '25.00' });
    await putCard(db.pool, 'acct-still-held-3ds', 'pm_3ds_still');
    await pass(gateway);
    assert.equal(await statusOf(db.pool, 'still-held-3ds'), 'action_required');
    const intent = (await chargeRow(db.pool, 'still-held-3ds'))?.payment_intent_id as string;
    gateway.updatedAtGateway(intent, { amount: 100 });
    gateway.confirmedByCardholder(intent);
    tick(180);
    const held = clock;
    assert.equal((await pass(gateway)).errors, 1);
    assert.equal(await statusOf(db.pool, 'still-held-3ds'), 'finalized');
    tick(6 * HOUR);
    assert.deepEqual((await warnedBy(gateway)).lines, []);
    clock = new Date(held.getTime() + 3 * DAY * 1000);
    const late = await warnedBy(gateway);
    assert.equal(late.lines.length, 1);
    assert.match(late.lines[0]!, /invoice_id=still-held-3ds .*amount_received=1\.00 currency=USD invoice_total=25\.00 .*held_for=3d0h /);
    assert.equal(late.report.errors, 1);
  });
});
