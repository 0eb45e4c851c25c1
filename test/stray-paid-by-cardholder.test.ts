// A stray payment the cardholder makes on our page: the charger's off-session confirm of a 25.00
// invoice is asked for 3-D Secure (4000002500003155, not set up), but someone with the account's keys
// changed its PaymentIntent to 10.00 just before (the real SDK's update). The cardholder then confirms
// it on our page: 10.00 taken. Its success, heard by the catch-up or the webhook, is held on the
// invoice's charge row as the charger's own confirm holds one (last_error_code = stray_payment): never
// paid, never charged again; `vault refund-stray` refunds it, the next pass lets it go and charges
// 25.00 once. Before, only the charger's confirm held it: the row kept asking, the invoice went past
// due, and `vault refund-stray` said no stray was held. The real sandbox, SDK and invoicing app.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import { eventually, freePort, type RunningService, vault } from '@vault/testkit';
import { chargePass } from '../services/invoicing/src/charging/charger.ts';
import { catchUpEvents, gatewayEvents } from '../services/invoicing/src/charging/event-catch-up.ts';
import { chargeGateway, type ChargeGateway } from '../services/invoicing/src/charging/gateway-calls.ts';
import {
  authenticate,
  chargingWorld,
  customerOf,
  gatewayRecord,
  insertInvoice,
  putCard,
  startChargingInvoicing,
  type ChargingWorld,
} from './charging-harness.ts';

const ADMIN = 'admin-token-stray-cardholder-0123456789abcdef';
const SET_UP_OR_ASKED = '4000002500003155';

describe('a stray payment the cardholder makes on our page is held (real sandbox, SDK and invoicing app)', () => {
  let w: ChargingWorld;
  let gateway: ChargeGateway;
  let env: NodeJS.ProcessEnv;
  const cards: Record<string, string> = {};
  const row = async (id: string) =>
    (
      await w.db.pool.query<{ payment_intent_id: string | null; state: string; last_error_code: string | null }>(
        'select payment_intent_id, state, last_error_code from invoicing.charges where invoice_id = $1',
        [id],
      )
    ).rows[0];
  const statusOf = async (id: string) =>
    (await w.db.pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [id])).rows[0]!.status;
  const noticesOf = async (account: string) =>
    (await w.db.pool.query<{ type: string }>('select type from invoicing.notices where account_id = $1 order by seq', [account])).rows.map(
      (r) => r.type,
    );
  const pass = async () => {
    const log = memoryLogger();
    return { report: await chargePass({ pool: w.db.pool, gateway, retrySchedule: [259_200], log }), log };
  };
  const catchUp = async () => {
    const log = memoryLogger();
    await catchUpEvents({ pool: w.db.pool, log, events: gatewayEvents(w.sdk) });
    return log;
  };
  /** The PaymentIntents of the invoice at the gateway: their amounts and statuses, oldest first. */
  const intentsOf = async (id: string) => {
    const customer = await customerOf(w.db.pool, `acct-${id}`);
    const list = await w.sdk.paymentIntents.list({ customer: customer!, limit: 100 });
    return list.data
      .filter((pi) => pi.metadata?.invoice_id === id)
      .sort((a, b) => a.created - b.created || a.id.localeCompare(b.id))
      .map((pi) => [pi.amount_received, pi.status]);
  };
  /** A 25.00 invoice asked for 3-D Secure on a PaymentIntent made 10.00 at the gateway just before the charger's confirm. */
  const askedFor10 = async (id: string) => {
    cards[id] = await putCard(w, `acct-${id}`, SET_UP_OR_ASKED);
    await insertInvoice(w.db.pool, { id, account: `acct-${id}`, total: '25.00' });
    const changed: ChargeGateway = {
      ...gateway,
      confirm: async (c) => {
        await w.sdk.paymentIntents.update(c.paymentIntentId, { amount: 1000 });
        return gateway.confirm(c);
      },
    };
    const log = memoryLogger();
    await chargePass({ pool: w.db.pool, gateway: changed, retrySchedule: [259_200], log });
    const r = await row(id);
    assert.deepEqual([await statusOf(id), r?.state], ['action_required', 'action_required'], log.lines.join('\n'));
    const intent = await w.sdk.paymentIntents.retrieve(r!.payment_intent_id!);
    // Off-session, the bank's ask leaves it for the cardholder's card on our page (as on Stripe).
    assert.deepEqual([intent.status, intent.amount], ['requires_payment_method', 1000]);
    return intent.id;
  };

  before(async () => {
    w = await chargingWorld('stray_cardholder');
    gateway = chargeGateway(w.sdk);
    env = { DATABASE_URL: w.db.url, GATEWAY_PORT: String(w.gatewayPort), ADMIN_TOKEN: ADMIN };
  });
  after(async () => {
    await w?.close();
  });

  test('heard by the catch-up: held (stray_payment, its PaymentIntent kept), not paid, not charged again; refunded by vault refund-stray, the next pass charges 25.00 once', async () => {
    const id = 'inv-cardholder-catchup';
    const stray = await askedFor10(id);
    await authenticate(w, stray, cards[id]!);
    assert.equal((await w.sdk.paymentIntents.retrieve(stray)).status, 'succeeded', 'the cardholder paid 10.00 on our page');

    const log = await catchUp();
    assert.deepEqual(
      await row(id),
      { payment_intent_id: stray, state: 'scheduled', last_error_code: 'stray_payment' },
      log.lines.join('\n'),
    );
    assert.equal(await statusOf(id), 'finalized', 'no longer waits for the cardholder, and not paid');
    assert.ok(
      log.lines.some((l) =>
        l.includes(`event=charge.stray invoice_id=${id} payment_intent=${stray} reason=amount_mismatch amount_received=10.00 currency=USD`),
      ),
      log.lines.join('\n'),
    );
    assert.ok(!(await noticesOf(`acct-${id}`)).includes('invoice.paid'));

    // Passes only look for its refund: never past due for it, never charged again.
    for (let i = 0; i < 2; i++) {
      const { report, log: passLog } = await pass();
      assert.deepEqual([report.charged, report.paid, report.pastDue], [0, 0, 0], passLog.lines.join('\n'));
    }
    assert.deepEqual(await intentsOf(id), [[1000, 'succeeded']]);
    assert.equal(await statusOf(id), 'finalized');

    const refunded = await vault(['refund-stray', id], env);
    assert.equal(refunded.status, 0, refunded.stderr + refunded.stdout);
    const { log: releaseLog } = await pass();
    assert.ok(
      releaseLog.lines.some((l) =>
        l.includes(`event=charge.stray_released invoice_id=${id} payment_intent=${stray} amount_refunded=10.00`),
      ),
      releaseLog.lines.join('\n'),
    );
    // The new PaymentIntent is for 25.00; the card asks again, and the cardholder pays it on our page.
    const fresh = (await row(id))!.payment_intent_id!;
    assert.notEqual(fresh, stray);
    await authenticate(w, fresh, cards[id]!);
    await catchUp();
    assert.equal(await statusOf(id), 'paid');
    assert.deepEqual(await intentsOf(id), [
      [1000, 'succeeded'],
      [2500, 'succeeded'],
    ]);
    assert.equal((await w.sdk.charges.list({ payment_intent: stray })).data[0]?.amount_refunded, 1000);
  });

  test('heard by the webhook (the app running): held at once, the API says not paid, the app charges nothing while held; after vault refund-stray it charges 25.00 once', async () => {
    const id = 'inv-cardholder-webhook';
    const stray = await askedFor10(id);
    // A 3-day window: the app's passes do not look at the PaymentIntent themselves; only its webhook tells.
    const app: RunningService = await startChargingInvoicing(w, await freePort(), ADMIN, {
      PAYMENT_RETRY_SCHEDULE: 'P3D',
      WEBHOOK_CATCH_UP_EVERY_SECONDS: '3600',
    });
    try {
      const invoice = async () => {
        const res = await fetch(`${app.url}/v1/invoices/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        return (await res.json()) as { status: string };
      };
      const passes = async (n: number) => {
        const count = () => app.lines.filter((l) => l.includes('event=charging.pass')).length;
        const from = count();
        await eventually(`${n} passes`, () => count() >= from + n, 20_000);
      };
      await passes(2);
      await authenticate(w, stray, cards[id]!);
      await eventually('the stray held by its webhook', async () => (await row(id))?.last_error_code === 'stray_payment', 20_000).catch(
        (err: unknown) => {
          throw new Error(`${String(err)}\n${app.lines.join('\n')}`);
        },
      );
      assert.ok(
        app.lines.some(
          (l) =>
            l.includes('type=payment_intent.succeeded') &&
            l.includes(`payment_intent=${stray}`) &&
            l.includes('outcome=stray') &&
            l.includes('held=true'),
        ),
      );
      assert.deepEqual((await row(id))?.payment_intent_id, stray);
      await passes(3);
      assert.equal((await invoice()).status, 'finalized', 'the API: not paid yet');
      assert.deepEqual(await intentsOf(id), [[1000, 'succeeded']], 'nothing charged again');
      assert.ok(!(await noticesOf(`acct-${id}`)).includes('invoice.paid'));

      const refunded = await vault(['refund-stray', id], env);
      assert.equal(refunded.status, 0, refunded.stderr + refunded.stdout);
      await eventually(
        'released and asked on a new PaymentIntent',
        async () => {
          const r = await row(id);
          return r?.payment_intent_id !== stray && r?.state === 'action_required';
        },
        20_000,
      );
      assert.ok(app.lines.some((l) => l.includes(`event=charge.stray_released invoice_id=${id} payment_intent=${stray}`)));
      await authenticate(w, (await row(id))!.payment_intent_id!, cards[id]!);
      await eventually('paid by its webhook', async () => (await invoice()).status === 'paid', 20_000);
      await passes(2);
      const customer = await customerOf(w.db.pool, `acct-${id}`);
      // Failed: each PaymentIntent's off-session try, which the bank answered by asking for 3-D Secure.
      assert.deepEqual(await gatewayRecord(w.sdk, customer, id), { intents: 2, succeeded: 2, failed: 2 });
      assert.deepEqual(await intentsOf(id), [
        [1000, 'succeeded'],
        [2500, 'succeeded'],
      ]);
    } finally {
      await app.kill('SIGTERM');
    }
  });
});
