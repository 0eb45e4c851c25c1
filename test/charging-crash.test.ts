// Issue 5's requirement: however often the charger is killed, restarted, and
// its requests and the gateway's webhooks replayed, every invoice is charged
// at most once, and every invoice charged is marked paid.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, freePort, startService, type RunningService } from '@vault/testkit';
import { minorUnits } from '../services/invoicing/src/charging/amount.ts';
import { attemptKey } from '../services/invoicing/src/charging/gateway-calls.ts';
import { chargingWorld, customerOf, gatewayRecord, insertInvoice, putCard, statuses, type ChargingWorld } from './charging-harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Plan {
  id: string;
  account: string;
  total: string;
  card?: string;
  period?: string;
  /** The invoice's status once everything settled. */
  expect: 'paid' | 'past_due' | 'finalized';
}

const OK = 16;

// 4242 and 5555 pay, 0341 is always declined, one account has no card, and a
// credit is never charged.
const PLAN: Plan[] = [
  ...Array.from(
    { length: OK },
    (_, i): Plan => ({
      id: `crash-ok-${i}`,
      account: `acct-ok-${i}`,
      total: `${10 + i}.${String(i * 7).padStart(2, '0')}`,
      card: i % 2 ? '5555555555554444' : '4242424242424242',
      expect: 'paid',
    }),
  ),
  ...Array.from(
    { length: 4 },
    (_, i): Plan => ({
      id: `crash-decline-${i}`,
      account: `acct-decline-${i}`,
      total: i === 0 ? '0.50' : `${33 + i}.30`,
      card: '4000000000000341',
      expect: 'past_due',
    }),
  ),
  { id: 'crash-nocard', account: 'acct-nocard', total: '8.00', expect: 'past_due' },
  { id: 'crash-credit', account: 'acct-ok-0', total: '-2.00', period: '2026-11', expect: 'finalized' },
];

describe('charging survives kill -9 at any moment, and replays of every request and webhook', () => {
  let w: ChargingWorld;
  let port: number;
  let env: Record<string, string>;
  const cards = new Map<string, string>();

  before(async () => {
    w = await chargingWorld('charging_crash', { GATEWAY_SANDBOX_LATENCY_MS: '300' });
    port = await freePort();
    env = {
      DATABASE_URL: w.db.url,
      GATEWAY_PORT: String(w.gatewayPort),
      INVOICING_PORT: String(port),
      HOST: '127.0.0.1',
      PAYMENT_RETRY_SCHEDULE: 'PT0.2S,PT0.2S',
      CHARGE_EVERY_SECONDS: '0.2',
      ADMIN_TOKEN: 'admin-token-charging-crash-0123456789',
    };
    for (const p of PLAN) {
      await insertInvoice(w.db.pool, p);
      if (p.card && !cards.has(p.account)) cards.set(p.account, await putCard(w, p.account, p.card));
    }
  });
  after(() => w?.close());

  /** The same create and confirms the charger sent (the keys it stored, same parameters), each `times` times, answers ignored. */
  async function replayCharges(times: number): Promise<number> {
    const { rows } = await w.db.pool.query<{
      invoice_id: string;
      account_id: string;
      number: string;
      total: string;
      payment_intent_id: string | null;
      attempts: number;
      pending_payment_method_id: string | null;
      last_payment_method_id: string | null;
      idempotency_key: string;
    }>(
      `select c.invoice_id, i.account_id, i.number, i.total::text, c.payment_intent_id, c.attempts, c.pending_payment_method_id,
              c.last_payment_method_id, c.idempotency_key
         from invoicing.charges c join invoicing.invoices i on i.id = c.invoice_id`,
    );
    let sent = 0;
    const swallow = (p: Promise<unknown>) =>
      p.then(
        () => sent++,
        () => sent++,
      );
    for (let t = 0; t < times; t++) {
      await Promise.all(
        rows.flatMap((r) => {
          const customer = cards.has(r.account_id) ? customerOf(w.db.pool, r.account_id) : Promise.resolve(undefined);
          const create = customer.then((c) =>
            c
              ? swallow(
                  w.sdk.paymentIntents.create(
                    {
                      amount: minorUnits(r.total, 'USD'),
                      currency: 'usd',
                      customer: c,
                      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
                      description: `Invoice ${r.number}`,
                      metadata: { invoice_id: r.invoice_id, account_id: r.account_id, number: r.number },
                    },
                    { idempotencyKey: r.idempotency_key },
                  ),
                )
              : undefined,
          );
          const pm = r.pending_payment_method_id ?? r.last_payment_method_id;
          // Every attempt sent so far: the answered ones and the one pending, if any.
          const used = r.attempts + (r.pending_payment_method_id ? 1 : 0);
          const confirms =
            r.payment_intent_id && pm
              ? Array.from({ length: used }, (_, k) =>
                  swallow(
                    w.sdk.paymentIntents.confirm(
                      r.payment_intent_id!,
                      { payment_method: pm, off_session: true },
                      { idempotencyKey: attemptKey(r.idempotency_key, k + 1) },
                    ),
                  ),
                )
              : [];
          return [create, ...confirms];
        }),
      );
    }
    return sent;
  }

  /** Every payment_intent.succeeded the sandbox emitted, signed with the endpoint's secret as the gateway signs, POSTed `times` times each. */
  async function replayWebhooks(times: number): Promise<number[]> {
    const secret = (await w.db.pool.query<{ secret: string }>('select secret from invoicing.webhook_endpoints where secret is not null'))
      .rows[0]?.secret;
    if (!secret) return [];
    const statusesSeen: number[] = [];
    for await (const event of w.sdk.events.list({ type: 'payment_intent.succeeded', limit: 100 })) {
      const payload = JSON.stringify(event);
      for (let t = 0; t < times; t++) {
        const signature = w.sdk.webhooks.generateTestHeaderString({ payload, secret });
        const res = await fetch(`http://127.0.0.1:${port}/v1/gateway/webhooks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-signature': signature },
          body: payload,
        }).catch(() => undefined);
        if (res) statusesSeen.push(res.status);
      }
    }
    return statusesSeen;
  }

  test('killed at random moments while charging, then left to settle: at most one succeeded charge per invoice, each one marked paid', async (t) => {
    let app: RunningService | undefined;
    let kills = 0;
    let midFlight = 0;
    const gatewayCharges = async () =>
      (await w.db.pool.query<{ n: number }>('select count(*)::int as n from gateway_sandbox.charges')).rows[0]!.n;
    const seen: string[] = [];
    let replaying = true;
    // Replays run throughout, racing the charger's own requests (409s for keys in flight).
    const replayer = (async () => {
      while (replaying) {
        await replayCharges(1).catch(() => 0);
        await replayWebhooks(1).catch(() => []);
        await sleep(100);
      }
    })();
    try {
      for (let round = 0; round < 12; round++) {
        app = await startService('invoicing', env);
        if (round % 2 === 0) {
          await sleep(100 + Math.floor(Math.random() * 700));
        } else {
          // Mid-flight for sure: a charge the gateway just committed is answered only
          // GATEWAY_SANDBOX_LATENCY_MS later, so killing now loses the answer.
          const before = await gatewayCharges();
          const deadline = Date.now() + 3_000;
          while (Date.now() < deadline && (await gatewayCharges()) === before) await sleep(10);
          if ((await gatewayCharges()) !== before) midFlight++;
        }
        await app.kill('SIGKILL');
        kills++;
        seen.push(...app.lines);
      }
      app = await startService('invoicing', env);
      const settled = (s: Record<string, string>) => PLAN.every((p) => s[p.id] === p.expect);
      await eventually('every invoice settled', async () => settled(await statuses(w.db.pool)), 60_000);
      replaying = false;
      await replayer;

      // Everything again, several times, with the app up.
      await replayCharges(3);
      const hooks = await replayWebhooks(3);
      assert.ok(hooks.length >= OK * 3, `every succeeded event replayed (${hooks.length})`);
      assert.deepEqual([...new Set(hooks)], [200], 'replayed deliveries answer 200');
      await sleep(1_000);
      assert.ok(midFlight >= 1, 'at least one kill landed between the gateway committing a charge and answering it');
      seen.push(...app.lines);
      t.diagnostic(
        `killed ${kills} times, ${midFlight} right after the gateway committed a charge; ` +
          JSON.stringify({
            replays: seen.filter((l) => l.includes('replay=true')).length,
            unanswered: seen.filter((l) => l.includes('outcome=unanswered')).map((l) => /code=(\S+)/.exec(l)?.[1]),
            attempts: seen.filter((l) => l.includes('event=charge.attempt')).length,
            webhooks: seen.filter((l) => l.includes('event=webhook.received')).length,
          }),
      );
      // The finalize schedule's errors (no metering schema here) are not charging's.
      const failures = app.lines.filter((l) => l.includes('at=error') && /event=(charg|webhook|http)/.test(l));
      assert.deepEqual(failures, []);
    } finally {
      replaying = false;
      await replayer;
      await app?.kill('SIGTERM');
    }

    const final = await statuses(w.db.pool);
    for (const p of PLAN) {
      const record = await gatewayRecord(w.sdk, await customerOf(w.db.pool, p.account), p.id);
      assert.ok(record.succeeded <= 1, `${p.id}: ${record.succeeded} succeeded charges`);
      assert.ok(record.intents <= 1, `${p.id}: ${record.intents} PaymentIntents`);
      if (record.succeeded === 1) assert.equal(final[p.id], 'paid', `${p.id} was charged, so it is paid`);
      const want = { paid: [1, 0, 1], past_due: p.card ? [0, 3, 1] : [0, 0, 0], finalized: [0, 0, 0] }[p.expect];
      // Replays never add a charge: one success, or exactly the three declines of the schedule.
      assert.deepEqual([final[p.id], record.succeeded, record.failed, record.intents], [p.expect, ...want], p.id);
    }
    // The whole gateway, not found by metadata: a second PaymentIntent or a charge
    // the metadata does not name would count here too. (One success per PaymentIntent
    // is the sandbox's own rule, so a double charge can only be a second PaymentIntent.)
    const charged = PLAN.filter((p) => p.card && p.expect !== 'finalized');
    const gateway = await w.db.pool.query<{ intents: number; succeeded: number; failed: number }>(
      `select (select count(*)::int from gateway_sandbox.payment_intents) as intents,
              (select count(*)::int from gateway_sandbox.charges where status = 'succeeded') as succeeded,
              (select count(*)::int from gateway_sandbox.charges where status = 'failed') as failed`,
    );
    assert.deepEqual(gateway.rows[0], { intents: charged.length, succeeded: OK, failed: 3 * (charged.length - OK) });
    const events = await w.db.pool.query<{ n: number }>(
      `select count(*)::int as n from invoicing.gateway_events where type = 'payment_intent.succeeded'`,
    );
    assert.equal(events.rows[0]!.n, OK, 'each payment_intent.succeeded recorded once');
  });
});
