// Invoicing catches up with the gateway's events its webhooks missed: here no
// webhook endpoint exists at all, so the catch-up is all invoicing hears. On
// the real PostgreSQL and the real sandbox through the official SDK, pages of
// 4 events: a payment confirmed on our page and its refund are recorded, in
// that order; a run killed mid-way, run again, handles nothing twice and skips
// nothing; a refund before its payment keeps the mark before it until it is handled.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryLogger } from '@vault/runtime';
import { readEventMark } from '../services/invoicing/src/charging/event-mark.ts';
import { catchUpEvents, type EventSource, gatewayEvents } from '../services/invoicing/src/charging/event-catch-up.ts';
import { WEBHOOK_EVENTS } from '../services/invoicing/src/charging/gateway-calls.ts';
import { chargingWorld, insertInvoice, type ChargingWorld } from './charging-harness.ts';

describe("the catch-up of the gateway's events (real sandbox, no webhooks)", () => {
  let w: ChargingWorld;
  const log = memoryLogger();
  const source = () => gatewayEvents(w.sdk, 4);

  /** A PaymentIntent paid at the gateway (Stripe's test card), for `cents`, naming `invoiceId`. */
  const pay = async (cents: number, invoiceId: string) => {
    const pi = await w.sdk.paymentIntents.create({
      amount: cents,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      payment_method: 'pm_card_visa',
      confirm: true,
      metadata: { invoice_id: invoiceId },
    });
    assert.equal(pi.status, 'succeeded');
    return pi.id;
  };
  /** An invoice whose PaymentIntent charging stored (then left waiting for its cardholder, say). */
  const invoiceWithIntent = async (id: string, total: string, cents: number) => {
    await insertInvoice(w.db.pool, { id, account: `acct-${id}`, total });
    const pi = await w.sdk.paymentIntents.create({
      amount: cents,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      metadata: { invoice_id: id },
    });
    await w.db.pool.query(`insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts) values ($1, $2, 'past_due', 1)`, [
      id,
      pi.id,
    ]);
    return pi.id;
  };
  /** The sandbox's events of the types invoicing handles. */
  const ourEvents = async () =>
    (
      await w.db.pool.query<{ id: string; created: string }>(
        'select id, created from gateway_sandbox.events where type = any($1) order by seq',
        [[...WEBHOOK_EVENTS]],
      )
    ).rows;
  const invoice = async (id: string) =>
    (
      await w.db.pool.query<{ status: string; amount_refunded: string }>(
        'select status, amount_refunded::text from invoicing.invoices where id = $1',
        [id],
      )
    ).rows[0];
  /** The events `webhook.caught_up` lines handled (duplicates are not logged), one entry per line. */
  const handledLines = () =>
    log.lines
      .filter((l) => l.includes('event=webhook.caught_up') && !l.includes('outcome=before_payment'))
      .map((l) => /event_id=(\S+)/.exec(l)![1]);

  before(async () => {
    w = await chargingWorld('event_catch_up');
  });
  after(async () => {
    await w?.close();
  });

  test('a run killed mid-way, run again: every event handled once, the page payment before its refund', async () => {
    for (let i = 0; i < 5; i++) await pay(100 + i, 'someone-elses');
    // A payment the cardholder confirmed on our page, then refunded whole: both events missed.
    const pi = await invoiceWithIntent('inv-page', '25.00', 2500);
    await w.sdk.paymentIntents.confirm(pi, { payment_method: 'pm_card_visa' });
    await w.sdk.refunds.create({ payment_intent: pi });
    for (let i = 0; i < 6; i++) await pay(200 + i, 'someone-elses');
    const events = await ourEvents();
    assert.equal(events.length, 13);

    // Killed after the 7th event (the mark saved every 3).
    let taken = 0;
    const real = source();
    const killed: EventSource = {
      newestFirst: (since) => real.newestFirst(since),
      async *oldestFirstAfter(since, afterId) {
        for await (const e of real.oldestFirstAfter(since, afterId)) {
          if (++taken === 7) throw new Error('killed');
          yield e;
        }
      },
    };
    await assert.rejects(catchUpEvents({ pool: w.db.pool, log, events: killed, saveEvery: 3 }), /killed/);
    const saved = await readEventMark(w.db.pool);
    assert.ok(saved !== undefined && saved <= Number(events[6]!.created), `the mark (${saved}) is no later than what was handled`);
    assert.equal(handledLines().length, 7, 'the oldest, then 6 after it');

    const tally = await catchUpEvents({ pool: w.db.pool, log, events: source(), saveEvery: 3 });
    assert.ok(tally);
    assert.equal(tally.waiting, 0, 'the refund came after its payment');
    assert.equal(tally.caught_up, 6);
    assert.equal(tally.duplicates, 7);
    const recorded = await w.db.pool.query<{ id: string }>('select id from invoicing.gateway_events');
    assert.deepEqual(recorded.rows.map((r) => r.id).sort(), events.map((e) => e.id).sort(), 'nothing skipped');
    const handled = handledLines();
    assert.deepEqual([...handled].sort(), events.map((e) => e.id).sort(), 'nothing handled twice');
    assert.deepEqual(await invoice('inv-page'), { status: 'refunded', amount_refunded: '25.00' });
    const told = await w.db.pool.query<{ time: string }>(
      `select event->>'time' as time from invoicing.notices where type = 'invoice.refunded'`,
    );
    assert.equal(told.rowCount, 1, 'invoice.refunded told once');
    // Dated when they happened at the gateway (their events' created), not when the catch-up found them.
    const happened = async (type: string) =>
      new Date(
        1000 *
          Number(
            (
              await w.db.pool.query<{ created: string }>(
                `select created from gateway_sandbox.events
                  where type = $1 and $2 in (data->'object'->>'id', data->'object'->>'payment_intent')`,
                [type, pi],
              )
            ).rows[0]?.created,
          ),
      ).toISOString();
    const paid = await w.db.pool.query<{ paid_at: Date; time: string }>(
      `select c.paid_at, n.event->>'time' as time from invoicing.charges c
         join invoicing.notices n on n.type = 'invoice.paid' and n.event->'data'->>'invoice_id' = c.invoice_id
        where c.invoice_id = 'inv-page'`,
    );
    const succeededAt = await happened('payment_intent.succeeded');
    assert.deepEqual([paid.rows[0]?.paid_at.toISOString(), paid.rows[0]?.time], [succeededAt, succeededAt], 'paid_at and invoice.paid');
    assert.equal(told.rows[0]?.time, await happened('charge.refunded'), 'invoice.refunded');
    assert.equal(await readEventMark(w.db.pool), Number(events.at(-1)!.created));
    assert.ok(log.lines.some((l) => /at=info event=webhook_catchup\.done .*listed=13 caught_up=6 duplicates=7 waiting=0/.test(l)));
    assert.ok(log.lines.some((l) => /event=webhook\.caught_up .*count#webhooks\.caught_up=1/.test(l)));

    // Again: only duplicates (the overlap), nothing new.
    const again = await catchUpEvents({ pool: w.db.pool, log, events: source() });
    assert.deepEqual({ caught_up: again?.caught_up, waiting: again?.waiting }, { caught_up: 0, waiting: 0 });
  });

  test('a refund before its payment is recorded is not, and the mark waits before it; once it cannot wait any more, it is passed', async () => {
    // The PaymentIntent pays less than the invoice: its success is stray, so the invoice is never paid.
    // Its success was answered before strays were held on the row (hold-stray.ts; held, its refund is
    // `stray_refunded` at once): recorded by id, so the catch-up finds it a duplicate and holds nothing.
    const pi = await invoiceWithIntent('inv-short', '31.00', 3000);
    await w.sdk.paymentIntents.confirm(pi, { payment_method: 'pm_card_visa' });
    await w.db.pool.query(
      `insert into invoicing.gateway_events (id, type)
       select id, type from gateway_sandbox.events where type = 'payment_intent.succeeded' and data->'object'->>'id' = $1`,
      [pi],
    );
    await w.sdk.refunds.create({ payment_intent: pi, amount: 1000 });
    // A second later, so the mark's staying at the refund shows.
    await sleep(1_100);
    const paidAfter = await pay(300, 'someone-elses');
    const refund = (
      await w.db.pool.query<{ created: string }>(
        `select created from gateway_sandbox.events where type = 'charge.refunded' order by seq desc limit 1`,
      )
    ).rows[0]!;

    const first = await catchUpEvents({ pool: w.db.pool, log, events: source() });
    assert.equal(first?.waiting, 1);
    assert.equal(first?.caught_up, 1, 'the payment after the refund');
    const newest = Number((await ourEvents()).at(-1)!.created);
    assert.ok(newest > Number(refund.created));
    assert.equal(await readEventMark(w.db.pool), Number(refund.created), 'the mark stays at the refund');
    assert.ok(
      log.lines.some((l) => l.includes(`payment_intent=${paidAfter}`)),
      'the payment after the waiting refund handled',
    );
    assert.equal((await invoice('inv-short'))?.amount_refunded, '0.00');
    const second = await catchUpEvents({ pool: w.db.pool, log, events: source() });
    assert.equal(second?.waiting, 1, 'listed again');

    // Four days on (the gateway would have stopped retrying it): recorded as stray, the mark goes past it.
    const later = () => Date.now() + 4 * 86_400_000;
    const third = await catchUpEvents({ pool: w.db.pool, log, events: source(), now: later });
    assert.equal(third?.waiting, 0);
    assert.equal(third?.caught_up, 1);
    assert.ok(log.lines.some((l) => /at=warn event=webhook\.caught_up .*outcome=stray reason=not_paid invoice_id=inv-short/.test(l)));
    assert.equal(await readEventMark(w.db.pool), newest);
  });
});
