// The 3-D Secure window across card testing's revoke/retry cycles (decide.ts,
// round-ask.ts), against the gateway sandbox. A cardholder asked to
// authenticate has the retry schedule's span (here 8 days) before the invoice
// goes past due. Card testing past the limit cancels the PaymentIntent and, an
// hour later, charges the card on file again on a new one: the bank asks again.
// The window used to count from that latest ask, so a customer who would not
// pay (holding the page's client secret) could burn the PaymentIntent with junk
// cards every few days and the invoice never went past due. It counts from the
// round's first ask now; a new card put on file still starts its own window.
// Every step is a fresh pass or catch-up reading only the database (restarts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import { chargePass } from '../src/charging/charger.ts';
import { chargeGateway } from '../src/charging/gateway-calls.ts';
import { noticesOf } from '../src/notices/outbox.ts';
import { chargingWorld, insertInvoice, putCard, type ChargingWorld } from '../../../test/charging-harness.ts';
import { ALWAYS_3DS, burnIntent, DAY, RETRY_SCHEDULE } from './card-testing-rounds.ts';

let w: ChargingWorld;
before(async () => {
  w = await chargingWorld('card_testing_window');
});
after(async () => {
  await w?.close();
});

const rowOf = async (id: string) =>
  (
    await w.db.pool.query<{ state: string; payment_intent_id: string | null; attempts: number; round_start: number }>(
      'select state, payment_intent_id, attempts, round_start from invoicing.charges where invoice_id = $1',
      [id],
    )
  ).rows[0]!;
const statusOf = async (id: string) =>
  (await w.db.pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [id])).rows[0]!.status;

/** A charging pass as a freshly started process would run it, at `at`. */
const passAt = (at: number) =>
  chargePass({
    pool: w.db.pool,
    gateway: chargeGateway(w.sdk),
    retrySchedule: RETRY_SCHEDULE,
    log: memoryLogger(),
    now: () => new Date(at),
  });

/** The tester's script on the page's PaymentIntent, its declines found by a fresh catch-up: revoked and canceled. */
async function burn(invoiceId: string) {
  const pi = (await rowOf(invoiceId)).payment_intent_id!;
  await burnIntent(w, pi);
  assert.deepEqual(Object.values(await rowOf(invoiceId)).slice(0, 2), ['scheduled', null]);
  return pi;
}

/** After the revoke's hour (`at`, days on): the card on file asked again on a new PaymentIntent. */
async function askedAgainAt(invoiceId: string, at: number, burnt: string) {
  await passAt(at);
  const row = await rowOf(invoiceId);
  assert.equal(row.state, 'action_required');
  assert.ok(row.payment_intent_id && row.payment_intent_id !== burnt);
  assert.equal(await statusOf(invoiceId), 'action_required');
}

describe('the 3-D Secure window across card testing’s revoke/retry cycles', () => {
  test('counts from the round’s first ask: asked again every 3 days, the invoice is past due 8 days after the first ask', async () => {
    await putCard(w, 'acct-win', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-win', account: 'acct-win', total: '52.58' });
    const t0 = Date.now();
    await passAt(t0);
    assert.equal(await statusOf('inv-win'), 'action_required');

    // Burnt, then asked again after the hour, twice: each ask within the window of the first.
    await askedAgainAt('inv-win', t0 + 3 * DAY, await burn('inv-win'));
    await askedAgainAt('inv-win', t0 + 6 * DAY, await burn('inv-win'));
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-win')).map((n) => n.id),
      ['invoice.action_required:inv-win:1', 'invoice.action_required:inv-win:2', 'invoice.action_required:inv-win:3'],
    );
    assert.deepEqual([(await rowOf('inv-win')).round_start, (await rowOf('inv-win')).attempts], [0, 3], 'one round: the same card');

    // Not before the first ask's window ends.
    await passAt(t0 + 8 * DAY - 60_000);
    assert.equal(await statusOf('inv-win'), 'action_required');
    // Then past due, though the latest ask is 2 days old (it used to wait until day 14, and be burnt again before).
    await passAt(t0 + 8 * DAY + 1000);
    assert.equal(await statusOf('inv-win'), 'past_due');
    const pastDue = (await noticesOf(w.db.pool, 'acct-win')).find((n) => n.id === 'invoice.past_due:inv-win');
    assert.equal(pastDue?.data.reason, 'authentication_required');
    assert.equal((await rowOf('inv-win')).state, 'action_required', 'its PaymentIntent still waits for the cardholder');
  });

  test('burnt again within the minute after each ask, before any later pass: the ask past the window makes it past due itself', async () => {
    await putCard(w, 'acct-fast', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-fast', account: 'acct-fast', total: '52.58' });
    const t0 = Date.now();
    await passAt(t0);
    await askedAgainAt('inv-fast', t0 + 3 * DAY, await burn('inv-fast'));
    await askedAgainAt('inv-fast', t0 + 6 * DAY, await burn('inv-fast'));
    // Burnt at once again: the row is scheduled, so no pass finds it waiting at the window's end; the
    // next one asks again (it used to ask, the invoice action_required until the next burn, and so on).
    const burnt = await burn('inv-fast');
    // That ask, past the window: past due with it, told once (the past-due notice alone, not an ask too);
    // its PaymentIntent waits for the cardholder.
    await passAt(t0 + 8 * DAY + 1000);
    const row = await rowOf('inv-fast');
    assert.equal(await statusOf('inv-fast'), 'past_due');
    assert.ok(row.state === 'action_required' && row.payment_intent_id && row.payment_intent_id !== burnt);
    const told = await noticesOf(w.db.pool, 'acct-fast');
    assert.deepEqual(told.map((n) => n.id).slice(-2), ['invoice.action_required:inv-fast:3', 'invoice.past_due:inv-fast']);
    assert.equal(told.find((n) => n.id === 'invoice.past_due:inv-fast')?.data.reason, 'authentication_required');
    // Burnt once more: charged again after the hour as before, the invoice still past due.
    await burn('inv-fast');
    assert.equal(await statusOf('inv-fast'), 'past_due');
  });

  test('a new card put on file starts a new round and a new window; burning that one keeps its first ask', async () => {
    await putCard(w, 'acct-new', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-new', account: 'acct-new', total: '52.58' });
    const t0 = Date.now();
    await passAt(t0);
    await askedAgainAt('inv-new', t0 + 3 * DAY, await burn('inv-new'));

    // Day 6: another card, asking too. Its round's window runs to day 14.
    await putCard(w, 'acct-new', ALWAYS_3DS);
    await passAt(t0 + 6 * DAY);
    assert.deepEqual([(await rowOf('inv-new')).round_start, (await rowOf('inv-new')).attempts], [2, 3]);
    await askedAgainAt('inv-new', t0 + 10 * DAY, await burn('inv-new'));

    await passAt(t0 + 8 * DAY + 1000 + 4 * DAY);
    assert.equal(await statusOf('inv-new'), 'action_required', 'the new card’s window: from day 6, not day 0');
    await passAt(t0 + 14 * DAY - 60_000);
    assert.equal(await statusOf('inv-new'), 'action_required');
    await passAt(t0 + 14 * DAY + 1000);
    assert.equal(await statusOf('inv-new'), 'past_due', 'nor from day 10, its latest ask');
  });
});
