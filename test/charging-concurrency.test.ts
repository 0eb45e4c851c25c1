// Issue 21: one invoice at a time hammered from every side at once — finalize
// creating it, charge passes from the app and from here, the gateway's own
// webhook and replays of it, then a refund — against the real database and
// the real sandbox, with the sandbox answering at once and a few ms later.
// Every transaction on an invoice locks the invoice first, so PostgreSQL
// never has to break a deadlock (its own pg_stat_database counter says so).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { migrate } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import { deadlocksIn, eventually, freePort, startService, type RunningService } from '@vault/testkit';
import { chargePass, type PassReport } from '../services/invoicing/src/charging/charger.ts';
import { chargeGateway } from '../services/invoicing/src/charging/gateway-calls.ts';
import { parsePeriod } from '../services/invoicing/src/domain/period.ts';
import { finalizePeriod } from '../services/invoicing/src/billing/finalize.ts';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { seedOwners, seedUsage } from '../services/invoicing/test/seed.ts';
import { chargingWorld, customerOf, gatewayRecord, putCard, type ChargingWorld } from './charging-harness.ts';

const METERING_MIGRATIONS = fileURLToPath(new URL('../services/metering/migrations', import.meta.url));
const PERIOD = parsePeriod('2026-10');
const ROUNDS = 12;
const ROUND_MS = 4_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const latency of [0, 4]) {
  describe(`one invoice hammered by finalize, charge passes, webhooks and a refund (sandbox latency ${latency} ms)`, () => {
    let w: ChargingWorld;
    let app: RunningService;
    let appUrl: string;

    before(async () => {
      w = await chargingWorld(`charging_race_${latency}`, { GATEWAY_SANDBOX_LATENCY_MS: String(latency) });
      await migrate(w.db.pool, 'metering', METERING_MIGRATIONS);
      const port = await freePort();
      app = await startService('invoicing', {
        DATABASE_URL: w.db.url,
        GATEWAY_PORT: String(w.gatewayPort),
        INVOICING_PORT: String(port),
        HOST: '127.0.0.1',
        PAYMENT_RETRY_SCHEDULE: 'PT0.1S',
        CHARGE_EVERY_SECONDS: '0.02',
        ADMIN_TOKEN: 'admin-token-charging-concurrency-0123456789',
      });
      appUrl = `http://127.0.0.1:${port}`;
    });
    after(async () => {
      await app?.kill('SIGTERM');
      await w?.close();
    });

    /** The invoice's payment_intent.succeeded events, re-signed as the gateway signs them and POSTed again. */
    async function replayWebhooks(invoiceId: string): Promise<number[]> {
      const secret = (await w.db.pool.query<{ secret: string }>('select secret from invoicing.webhook_endpoints where secret is not null'))
        .rows[0]?.secret;
      if (!secret) return [];
      const seen: number[] = [];
      const events = await w.sdk.events.list({ type: 'payment_intent.succeeded', limit: 100 });
      for (const event of events.data) {
        const object = event.data.object as { metadata?: Record<string, string> };
        if (object.metadata?.invoice_id !== invoiceId) continue;
        const payload = JSON.stringify(event);
        const signature = w.sdk.webhooks.generateTestHeaderString({ payload, secret });
        const res = await fetch(`${appUrl}/v1/gateway/webhooks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-signature': signature },
          body: payload,
        });
        seen.push(res.status);
      }
      return seen;
    }

    test(`${ROUNDS} invoices in turn: no deadlock, no failed pass, one PaymentIntent and one charge each, paid`, async (t) => {
      const log = memoryLogger();
      const gateway = chargeGateway(w.sdk);
      const reports: PassReport[] = [];
      const webhookStatuses: number[] = [];
      const before = await deadlocksIn(w.db.pool);
      const prices = loadPriceBook();
      const finalize = () => finalizePeriod({ pool: w.db.pool, prices, graceHours: 0, now: () => DateTime.utc(), log }, PERIOD);
      const pass = () =>
        chargePass({ pool: w.db.pool, gateway, retrySchedule: [0.1], log, concurrency: 4 }).then((r) => void reports.push(r));

      for (let round = 0; round < ROUNDS; round++) {
        const account = `acct-race-${latency}-${round}`;
        const appId = `app-race-${latency}-${round}`;
        await seedOwners(w.db.pool, [{ app: appId, account, from: '2026-09-01T00:00:00Z' }]);
        await seedUsage(w.db.pool, [
          { app: appId, kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2026-10-01T00:00:00Z', to: '2026-10-11T00:00:00Z' },
        ]);
        await putCard(w, account, '4242424242424242');
        const invoiceOf = async () =>
          (
            await w.db.pool.query<{ id: string; status: string }>('select id, status from invoicing.invoices where account_id = $1', [
              account,
            ])
          ).rows[0];

        const deadline = Date.now() + ROUND_MS;
        let paid = false;
        // Every side at once until the invoice is paid: finalize twice, passes from here (the app's loop runs too), replays.
        const hammer = async (side: () => Promise<unknown>) => {
          while (!paid && Date.now() < deadline) {
            await side();
            await sleep(Math.random() * 3);
          }
        };
        const watcher = (async () => {
          while (!paid && Date.now() < deadline) {
            paid = (await invoiceOf())?.status === 'paid';
            if (!paid) await sleep(2);
          }
        })();
        await Promise.all([
          watcher,
          hammer(finalize),
          hammer(finalize),
          hammer(pass),
          hammer(pass),
          hammer(async () => {
            const invoice = await invoiceOf();
            if (invoice) webhookStatuses.push(...(await replayWebhooks(invoice.id)));
          }),
        ]);
        const invoice = await invoiceOf();
        assert.equal(invoice?.status, 'paid', `${account}'s invoice is paid within ${ROUND_MS} ms`);

        // Then the refund, with the webhooks and passes still coming.
        const intentId = (
          await w.db.pool.query<{ payment_intent_id: string }>('select payment_intent_id from invoicing.charges where invoice_id = $1', [
            invoice!.id,
          ])
        ).rows[0]!.payment_intent_id;
        await Promise.all([
          w.sdk.refunds.create({ payment_intent: intentId }, { idempotencyKey: `refund:${invoice!.id}` }),
          w.sdk.refunds.create({ payment_intent: intentId }, { idempotencyKey: `refund:${invoice!.id}` }).catch(() => undefined),
          replayWebhooks(invoice!.id).then((s) => webhookStatuses.push(...s)),
          pass(),
          finalize(),
        ]);

        const record = await gatewayRecord(w.sdk, await customerOf(w.db.pool, account), invoice!.id);
        assert.deepEqual(record, { intents: 1, succeeded: 1, failed: 0 }, `${account}: one PaymentIntent, one succeeded charge`);
        const refunds = await w.db.pool.query('select 1 from gateway_sandbox.refunds where payment_intent = $1', [intentId]);
        assert.equal(refunds.rowCount, 1, `${account}: the refund sent twice with one key is one refund`);
        // Issue 17: the gateway's charge.refunded makes the invoice refunded, whole.
        await eventually(`${account}'s invoice refunded`, async () => (await invoiceOf())?.status === 'refunded');
      }

      await sleep(300);
      const lines = [...log.lines, ...app.lines];
      const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
      t.diagnostic(
        JSON.stringify({
          passes: reports.length,
          webhook_replays: webhookStatuses.length,
          app_webhooks: count(/event=webhook\.received/),
          retries: count(/event=db\.transaction_retry/),
        }),
      );
      assert.equal((await deadlocksIn(w.db.pool)) - before, 0, 'PostgreSQL broke no deadlock in this database');
      assert.deepEqual(
        lines.filter((l) => /deadlock|event=db\.transaction_retry|event=charge\.failed|event=charging\.pass_failed/.test(l)),
        [],
      );
      assert.deepEqual(
        reports.filter((r) => r.errors > 0),
        [],
        'no pass left an invoice for want of an answer or for a failure here',
      );
      assert.deepEqual(
        [...new Set(webhookStatuses)].filter((s) => s !== 200),
        [],
        'every replayed webhook answered 200',
      );
      const events = await w.db.pool.query<{ n: number }>(
        `select count(*)::int as n from invoicing.gateway_events where type = 'payment_intent.succeeded'`,
      );
      assert.equal(events.rows[0]!.n, ROUNDS, 'each payment_intent.succeeded recorded once');
    });
  });
}
