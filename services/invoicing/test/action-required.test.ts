// Strong customer authentication through the real apps: the gateway sandbox
// and the invoicing process. A 3-D Secure card (4000 0027 6000 3184) charged
// off-session leaves the invoice action_required with its notice — not a
// decline, never retried — and once the customer confirms the same
// PaymentIntent on-session and completes the challenge (what cc-forms' page
// does with the gateway's JS), payment_intent.succeeded marks it paid once.
// The off-session attempt's own payment_intent.payment_failed is no decline;
// a failed challenge's is noted on the page, and the customer may try again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, freePort, startService, type RunningService } from '@vault/testkit';
import { readPaymentStates } from '../src/charging/payment-state.ts';
import { noticesOf } from '../src/notices/outbox.ts';
import {
  authenticate,
  chargingWorld,
  customerOf,
  gatewayRecord,
  insertInvoice,
  putCard,
  type ChargingWorld,
} from '../../../test/charging-harness.ts';

const ADMIN = 'action-required-admin-token-0123456789';
const ALWAYS_3DS = '4000002760003184';

/** The sandbox, and the invoicing process charging every 0.2 s. */
async function startWorld(name: string, env: Record<string, string> = {}): Promise<{ w: ChargingWorld; app: RunningService }> {
  const w = await chargingWorld(name);
  const app = await startService('invoicing', {
    DATABASE_URL: w.db.url,
    GATEWAY_PORT: String(w.gatewayPort),
    ADMIN_TOKEN: ADMIN,
    INVOICING_PORT: String(await freePort()),
    HOST: '127.0.0.1',
    CHARGE_EVERY_SECONDS: '0.2',
    INVOICE_FINALIZE_EVERY_SECONDS: '3600',
    ...env,
  });
  return { w, app };
}

const statusOf = async (w: ChargingWorld, id: string) =>
  (await w.db.pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [id])).rows[0]!.status;

describe('a 3-D Secure card through the sandbox and the invoicing process', () => {
  let w: ChargingWorld;
  let app: RunningService;

  before(async () => ({ w, app } = await startWorld('action_required')));
  after(async () => {
    await app?.kill('SIGTERM');
    await w?.close();
  });
  const status = (id: string) => statusOf(w, id);

  test('off-session it is action_required with one notice, not a decline and not retried; the customer authenticates and it is paid once', async () => {
    const pm = await putCard(w, 'acct-3ds', ALWAYS_3DS); // first: without a card the invoice would be past_due
    await insertInvoice(w.db.pool, { id: 'inv-3ds', account: 'acct-3ds', total: '52.58' });
    let seen = '';
    const charging = () =>
      app.lines
        .filter((l) => /charge\.|charging\./.test(l))
        .slice(-5)
        .join('\n');
    await eventually(
      () => `action_required, is ${seen}\n${charging()}`,
      async () => (seen = await status('inv-3ds')) === 'action_required',
    );
    // Passes go on (every 0.2 s): the invoice waits for the customer, no attempt is made again.
    await new Promise((r) => setTimeout(r, 1_000));
    const customer = await customerOf(w.db.pool, 'acct-3ds');
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-3ds'), { intents: 1, succeeded: 0, failed: 1 });
    assert.equal(await status('inv-3ds'), 'action_required');
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-3ds')).map((n) => n.id),
      ['invoice.action_required:inv-3ds:1'],
    );
    const invoice = { id: 'inv-3ds', status: 'action_required' as const, total: '52.58', currency: 'USD', amount_refunded: '0.00' };
    const waiting = (await readPaymentStates(w.db.pool, [invoice])).get('inv-3ds')!;
    assert.ok(waiting.kind === 'action_required' && waiting.paymentMethodId === pm, JSON.stringify(waiting));

    await authenticate(w, waiting.paymentIntentId, pm);

    await eventually(
      () => `paid, is ${seen}\n${charging()}`,
      async () => (seen = await status('inv-3ds')) === 'paid',
      20_000,
    );
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-3ds'), { intents: 1, succeeded: 1, failed: 1 });
    await new Promise((r) => setTimeout(r, 600)); // passes and redeliveries after: nothing more
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-3ds')).map((n) => n.id),
      ['invoice.action_required:inv-3ds:1', 'invoice.paid:inv-3ds'],
    );
    const paid = (await readPaymentStates(w.db.pool, [{ ...invoice, status: 'paid' }])).get('inv-3ds')!;
    assert.ok(paid.kind === 'paid' && paid.at && paid.card?.last4 === '3184', JSON.stringify(paid));
    assert.ok(
      app.lines.some((l) => l.includes('event=charge.attempt') && l.includes('outcome=action_required')),
      'the attempt is logged as action_required',
    );
    // Subscribed to: the off-session attempt's own payment_failed (authentication_required) is heard, and is no decline.
    assert.ok(
      app.lines.some((l) => l.includes('type=payment_intent.payment_failed') && l.includes('outcome=ignored reason=asked')),
      'its payment_failed is heard and ignored',
    );
  });
});

describe('a cardholder who does not authenticate in time', () => {
  let w: ChargingWorld;
  let app: RunningService;

  // A declined card would be retried after 1 s and 1 s more: the cardholder has those 2 s.
  before(async () => ({ w, app } = await startWorld('unauthenticated', { PAYMENT_RETRY_SCHEDULE: 'PT1S,PT1S' })));
  after(async () => {
    await app?.kill('SIGTERM');
    await w?.close();
  });
  const status = (id: string) => statusOf(w, id);

  test('once the retry schedule’s span has passed the invoice is past_due (one notice, no new attempt); authenticating later still pays it once', async () => {
    const pm = await putCard(w, 'acct-late', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-late', account: 'acct-late', total: '52.58' });
    await eventually('action_required', async () => (await status('inv-late')) === 'action_required');
    const askedAt = Date.now();
    await eventually('past_due', async () => (await status('inv-late')) === 'past_due');
    assert.ok(Date.now() - askedAt >= 1_500, 'not before the 2 s the schedule gives');
    const customer = await customerOf(w.db.pool, 'acct-late');
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-late'), { intents: 1, succeeded: 0, failed: 1 });
    const told = await noticesOf(w.db.pool, 'acct-late');
    assert.deepEqual(
      told.map((n) => n.type),
      ['invoice.action_required', 'invoice.past_due'],
    );
    // Told as waiting for the cardholder, not as a refusal: authenticating is all it takes.
    assert.equal(told[1]!.data.reason, 'authentication_required');

    const invoice = { id: 'inv-late', status: 'past_due' as const, total: '52.58', currency: 'USD', amount_refunded: '0.00' };
    const waiting = (await readPaymentStates(w.db.pool, [invoice])).get('inv-late')!;
    assert.ok(waiting.kind === 'action_required' && waiting.pastDue, JSON.stringify(waiting));
    await authenticate(w, waiting.paymentIntentId, pm);
    await eventually('paid', async () => (await status('inv-late')) === 'paid', 20_000);
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-late'), { intents: 1, succeeded: 1, failed: 1 });
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-late')).map((n) => n.type),
      ['invoice.action_required', 'invoice.past_due', 'invoice.paid'],
    );
  });
});

describe('a cardholder who fails the bank’s check, then passes it', () => {
  let w: ChargingWorld;
  let app: RunningService;

  before(async () => ({ w, app } = await startWorld('check_failed')));
  after(async () => {
    await app?.kill('SIGTERM');
    await w?.close();
  });

  test('payment_intent.payment_failed of the failed challenge is noted (still action_required, the page says so); passing it then pays once', async () => {
    const pm = await putCard(w, 'acct-check', ALWAYS_3DS);
    await insertInvoice(w.db.pool, { id: 'inv-check', account: 'acct-check', total: '52.58' });
    await eventually('action_required', async () => (await statusOf(w, 'inv-check')) === 'action_required');
    const invoice = { id: 'inv-check', status: 'action_required' as const, total: '52.58', currency: 'USD', amount_refunded: '0.00' };
    const asked = (await readPaymentStates(w.db.pool, [invoice])).get('inv-check')!;
    assert.ok(asked.kind === 'action_required' && !asked.checkFailed, JSON.stringify(asked));

    await authenticate(w, asked.paymentIntentId, pm, 'fail');
    const code = async () =>
      (await w.db.pool.query<{ c: string }>(`select last_error_code as c from invoicing.charges where invoice_id = 'inv-check'`)).rows[0]!
        .c;
    await eventually('the failed check noted', async () => (await code()) === 'payment_intent_authentication_failure', 20_000);
    assert.equal(await statusOf(w, 'inv-check'), 'action_required');
    const failed = (await readPaymentStates(w.db.pool, [invoice])).get('inv-check')!;
    assert.ok(failed.kind === 'action_required' && failed.checkFailed, JSON.stringify(failed));
    // Logged after the write commits, and read from the process's stdout: it may come just after the row.
    await eventually('the webhook logged', () =>
      app.lines.some((l) => l.includes('type=payment_intent.payment_failed') && l.includes('outcome=authentication_failed')),
    );

    await authenticate(w, failed.paymentIntentId, pm);
    await eventually('paid', async () => (await statusOf(w, 'inv-check')) === 'paid', 20_000);
    const customer = await customerOf(w.db.pool, 'acct-check');
    assert.deepEqual(await gatewayRecord(w.sdk, customer, 'inv-check'), { intents: 1, succeeded: 1, failed: 1 });
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-check')).map((n) => n.type),
      ['invoice.action_required', 'invoice.paid'],
    );
  });
});
