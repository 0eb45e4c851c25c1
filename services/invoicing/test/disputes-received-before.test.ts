// Chargebacks an older release received (migration 029): before 028 every gateway
// event was recorded by id and an unhandled type answered `ignored`, so the
// chargebacks an installation subscribed to `*` received were duplicates to this
// release's webhook and catch-up, and invoice_disputes stayed empty. After the
// upgrade the catch-up lists the gateway's 30 days again and records them. The real
// PostgreSQL; the gateway's event list is a fixed one.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import { amountDisputedSql } from '../src/charging/dispute-sums.ts';
import { catchUpEvents, type EventSource } from '../src/charging/event-catch-up.ts';
import { readEventMark, saveEventMark } from '../src/charging/event-mark.ts';
import { WEBHOOK_EVENTS } from '../src/charging/gateway-calls.ts';
import { handleGatewayEvent } from '../src/charging/webhooks.ts';
import { chargedThrough, disputeMade, fixtureDisputes } from './charging-fixture.ts';
import { databaseBeforeMigration } from './seed.ts';

const DAY = 86_400;
const nowS = () => Math.floor(Date.now() / 1000);

interface ListedEvent {
  id: string;
  type: string;
  created: number;
  data: { object: unknown };
}

/** A chargeback's event: `dispute` of `cents` on PaymentIntent `pi`, made `daysAgo` days ago. */
const disputeEvent = (
  id: string,
  type: 'withdrawn' | 'reinstated',
  dispute: string,
  pi: string,
  cents: number,
  daysAgo: number,
  reason = 'fraudulent',
) => {
  disputeMade(dispute, pi, reason);
  return {
    id,
    object: 'event',
    type: `charge.dispute.funds_${type}`,
    created: nowS() - daysAgo * DAY,
    data: {
      object: {
        id: dispute,
        object: 'dispute',
        amount: cents,
        currency: 'usd',
        charge: `ch_${dispute}`,
        payment_intent: pi,
        reason,
      },
    },
  };
};

/** The gateway's List Events over `events`: only the types invoicing asks for, by `created`. */
function listing(events: ListedEvent[]): EventSource {
  const listed = events.filter((e) => (WEBHOOK_EVENTS as readonly string[]).includes(e.type)).sort((a, b) => a.created - b.created);
  return {
    async *newestFirst(since) {
      yield* listed.filter((e) => e.created >= since).reverse();
    },
    async *oldestFirstAfter(since, afterId) {
      yield* listed.slice(listed.findIndex((e) => e.id === afterId) + 1).filter((e) => e.created >= since);
    },
  };
}

/** What an older release did with every event it received: recorded by id (answered `ignored` or handled). */
async function recordedByOlderRelease(pool: import('pg').Pool, e: ListedEvent): Promise<void> {
  await pool.query(`insert into invoicing.gateway_events (id, type, received_at) values ($1, $2, to_timestamp($3))`, [
    e.id,
    e.type,
    e.created,
  ]);
}

describe('chargebacks an older release received, after the upgrade (migration 029)', () => {
  const drops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const drop of drops) await drop();
  });

  test('the catch-up lists the 30 days again and records them: amount_disputed is what was withdrawn and not reinstated; a stray stays stray', async () => {
    const { db, migrateRest, drop } = await databaseBeforeMigration('disputes_before', '028_charge_disputes.sql');
    drops.push(drop);
    const pool = db.pool;
    await chargedThrough(pool, 'inv-a', '25.00');
    await chargedThrough(pool, 'inv-b', '40.00');
    const events: ListedEvent[] = [
      { id: 'evt_pay_a', type: 'payment_intent.succeeded', created: nowS() - 20 * DAY, data: { object: { id: 'pi_inv-a' } } },
      disputeEvent('evt_b_withdrawn', 'withdrawn', 'dp_b', 'pi_inv-b', 4000, 12),
      disputeEvent('evt_a_withdrawn', 'withdrawn', 'dp_a', 'pi_inv-a', 2500, 10),
      { ...disputeEvent('evt_a_created', 'withdrawn', 'dp_a', 'pi_inv-a', 2500, 10), type: 'charge.dispute.created' },
      disputeEvent('evt_x_withdrawn', 'withdrawn', 'dp_x', 'pi_not_ours', 1000, 5),
      disputeEvent('evt_b_reinstated', 'reinstated', 'dp_b', 'pi_inv-b', 4000, 3),
    ];
    for (const e of events) await recordedByOlderRelease(pool, e);
    // Its catch-up had passed them all.
    await saveEventMark(pool, nowS() - 3_600);

    await migrateRest();
    const { rows: kept } = await pool.query<{ id: string }>('select id from invoicing.gateway_events order by id');
    assert.deepEqual(
      kept.map((r) => r.id),
      ['evt_a_created', 'evt_pay_a'],
      'the chargebacks are forgotten; what is not a movement of money is kept',
    );
    assert.equal(await readEventMark(pool), undefined, 'the next catch-up lists all the gateway keeps');

    const log = memoryLogger();
    const tally = await catchUpEvents({ pool, log, events: listing(events), disputes: fixtureDisputes(pool) });
    assert.deepEqual(
      { listed: tally?.listed, caught_up: tally?.caught_up, duplicates: tally?.duplicates },
      { listed: 5, caught_up: 4, duplicates: 1 },
    );
    const { rows: disputes } = await pool.query(
      `select dispute_id, invoice_id, amount::text, withdrawn_event, reinstated_event from invoicing.invoice_disputes order by dispute_id`,
    );
    assert.deepEqual(disputes, [
      { dispute_id: 'dp_a', invoice_id: 'inv-a', amount: '25.00', withdrawn_event: 'evt_a_withdrawn', reinstated_event: null },
      {
        dispute_id: 'dp_b',
        invoice_id: 'inv-b',
        amount: '40.00',
        withdrawn_event: 'evt_b_withdrawn',
        reinstated_event: 'evt_b_reinstated',
      },
    ]);
    const disputed = async () =>
      (await pool.query(`select i.id, i.status, ${amountDisputedSql('i')} as amount_disputed from invoicing.invoices i order by i.id`))
        .rows;
    assert.deepEqual(await disputed(), [
      { id: 'inv-a', status: 'paid', amount_disputed: '25.00' },
      { id: 'inv-b', status: 'paid', amount_disputed: '0.00' },
    ]);
    assert.ok(log.lines.some((l) => /at=warn event=charge\.dispute_withdrawn event_id=evt_a_withdrawn invoice_id=inv-a/.test(l)));
    assert.ok(
      log.lines.some((l) => /event=webhook\.caught_up event_id=evt_x_withdrawn .*outcome=stray reason=unknown_payment_intent/.test(l)),
    );

    // Once: the next run lists from its mark again, finds duplicates, and nothing changes.
    assert.ok((await readEventMark(pool))! >= events.at(-1)!.created);
    const again = await catchUpEvents({ pool, log: memoryLogger(), events: listing(events), disputes: fixtureDisputes(pool) });
    assert.equal(again?.caught_up, 0);
    assert.deepEqual(await disputed(), [
      { id: 'inv-a', status: 'paid', amount_disputed: '25.00' },
      { id: 'inv-b', status: 'paid', amount_disputed: '0.00' },
    ]);
  });

  test("on a release that handled chargebacks (028 applied), what it recorded stays: a dispute row's events and a stray; only older ones go", async () => {
    const { db, migrateRest, drop } = await databaseBeforeMigration('disputes_after', '029_disputes_received_before.sql');
    drops.push(drop);
    const pool = db.pool;
    await chargedThrough(pool, 'inv-c', '30.00');
    // Received by an older release, before 028 was applied.
    await pool.query(
      `insert into invoicing.gateway_events (id, type, received_at)
       select 'evt_older', 'charge.dispute.funds_withdrawn', applied_at - interval '1 day'
         from invoicing.schema_migrations where name = '028_charge_disputes.sql'`,
    );
    const log = memoryLogger();
    // Not fraudulent: this schema (028) is before any card was blocked (031, 032), which this test is not about.
    const recorded = await handleGatewayEvent(
      { pool, log },
      disputeEvent('evt_c_withdrawn', 'withdrawn', 'dp_c', 'pi_inv-c', 3000, 1, 'general'),
    );
    assert.equal(recorded.outcome, 'dispute_withdrawn');
    const stray = await handleGatewayEvent(
      { pool, log },
      disputeEvent('evt_y_withdrawn', 'withdrawn', 'dp_y', 'pi_not_ours', 500, 1, 'general'),
    );
    assert.equal(stray.outcome, 'stray');

    await migrateRest();
    const { rows } = await pool.query<{ id: string }>(
      `select id from invoicing.gateway_events where type like 'charge.dispute.%' order by id`,
    );
    assert.deepEqual(
      rows.map((r) => r.id),
      ['evt_c_withdrawn', 'evt_y_withdrawn'],
    );
  });
});
