import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatewayClient } from '@vault/gateway';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { createBilling } from '../src/billing/service.ts';
import { ensureWebhookEndpoint, webhookUrl } from '../src/charging/webhook-endpoint.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, statusOf } from './charging-fixture.ts';

const ADMIN = 'admin-token-for-webhook-tests-0123456789';
const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });
const URL_ = webhookUrl('http://localhost:3000');

/** A delivery as the gateway signs it. */
const delivery = (event: object, secret: string, timestamp?: number) => {
  const payload = JSON.stringify(event);
  return { payload, signature: stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) }) };
};
/** payment_intent.succeeded for the invoice's own PaymentIntent (`pi_for_<invoice>`), for `amount` cents. */
const succeeded = (id: string, invoiceId: string, amount = 500, intentId = `pi_for_${invoiceId}`) => ({
  id,
  object: 'event',
  type: 'payment_intent.succeeded',
  created: Math.floor(Date.now() / 1000),
  livemode: false,
  data: {
    object: {
      id: intentId,
      object: 'payment_intent',
      status: 'succeeded',
      amount,
      amount_received: amount,
      currency: 'usd',
      metadata: { invoice_id: invoiceId, account_id: 'a', number: 'n' },
    },
  },
});

/** A finalized invoice whose PaymentIntent charging stored (`pi_for_<id>`). */
async function chargedInvoice(pool: TestDatabase['pool'], i: { id: string; account: string; total: string; status?: string }) {
  await insertInvoice(pool, i);
  await pool.query(
    `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, next_attempt_at) values ($1, $2, 'scheduled', 0, now())`,
    [i.id, `pi_for_${i.id}`],
  );
}

test('the webhook address is INVOICING_URL with /v1/gateway/webhooks under its path, a proxy prefix kept', () => {
  assert.equal(URL_, 'http://localhost:3000/v1/gateway/webhooks');
  assert.equal(webhookUrl('https://example.com/billing'), 'https://example.com/billing/v1/gateway/webhooks');
  assert.equal(webhookUrl('https://example.com/billing/'), 'https://example.com/billing/v1/gateway/webhooks');
});

describe('gateway webhooks', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let configured: FastifyInstance;
  const log = memoryLogger();
  const post = (app: FastifyInstance, d: { payload: string; signature?: string }, contentType = 'application/json') =>
    app.inject({
      method: 'POST',
      url: '/v1/gateway/webhooks',
      headers: { 'content-type': contentType, ...(d.signature ? { 'stripe-signature': d.signature } : {}) },
      payload: d.payload,
    });
  const secret = async () =>
    (await db.pool.query<{ secret: string }>('select secret from invoicing.webhook_endpoints where url = $1', [URL_])).rows[0]!.secret;

  before(async () => {
    db = await chargingDatabase();
    const prices = loadPriceBook();
    const billing = createBilling({ pool: db.pool, prices, graceHours: 72 });
    const app = (secret: string | undefined) => {
      const h = createHttpApp(log);
      invoicingRoutes(h, { pool: db.pool, billing, prices, adminToken: ADMIN, log, webhooks: { verifier: stripe.webhooks, secret } });
      return h;
    };
    http = app(undefined);
    configured = app('whsec_configured_by_hand');
    await Promise.all([http.ready(), configured.ready()]);
  });
  after(async () => {
    await http?.close();
    await configured?.close();
    await db?.drop();
  });

  test('before the endpoint is registered a delivery gets 503, so the gateway delivers it again later', async () => {
    const res = await post(http, delivery(succeeded('evt_early', 'x'), 'whsec_whatever'));
    assert.equal(res.statusCode, 503);
  });

  test('registration stores the endpoint and its secret; a later boot reuses it; a crash in between replays the same key', async () => {
    const gateway = new FakeGateway();
    gateway.loseAnswers = true;
    await assert.rejects(ensureWebhookEndpoint(db.pool, gateway, URL_, log));
    gateway.loseAnswers = false;
    await ensureWebhookEndpoint(db.pool, gateway, URL_, log);
    assert.equal(gateway.endpoints.size, 1, 'the replay made no second endpoint');
    assert.equal(gateway.sent[0], gateway.sent[1]);
    const stored = await db.pool.query('select endpoint_id, secret from invoicing.webhook_endpoints');
    assert.equal(stored.rows.length, 1);
    assert.match(stored.rows[0].secret, /^whsec_/);
    await ensureWebhookEndpoint(db.pool, gateway, URL_, log);
    assert.equal(gateway.sent.length, 2, 'reused: nothing registered again');
    // The gateway forgot it (its database was reset): a new endpoint and secret.
    gateway.endpoints.clear();
    await ensureWebhookEndpoint(db.pool, gateway, URL_, log);
    const again = await db.pool.query('select endpoint_id, secret from invoicing.webhook_endpoints');
    assert.notEqual(again.rows[0].endpoint_id, stored.rows[0].endpoint_id);
    assert.equal(gateway.endpoints.size, 1);
  });

  test("payment_intent.succeeded of the invoice's own PaymentIntent for its amount marks it paid (no bearer token); GET /v1/invoices/:id shows it", async () => {
    await chargedInvoice(db.pool, { id: 'wh-1', account: 'acct-wh', total: '12.34' });
    const res = await post(http, delivery(succeeded('evt_1', 'wh-1', 1234), await secret()));
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { received: true, duplicate: false });
    assert.equal(await statusOf(db.pool, 'wh-1'), 'paid');
    const api = await http.inject({ method: 'GET', url: '/v1/invoices/wh-1', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(api.json().status, 'paid');
    assert.ok(
      log.lines.some((l) => /event=webhook\.received event_id=evt_1 type=payment_intent\.succeeded outcome=paid invoice_id=wh-1/.test(l)),
    );
  });

  test('the same event again answers 200 and changes nothing; another event for a paid invoice leaves it paid', async () => {
    const res = await post(http, delivery(succeeded('evt_1', 'wh-1', 1234), await secret()));
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { received: true, duplicate: true });
    const other = await post(http, delivery(succeeded('evt_2', 'wh-1', 1234), await secret()));
    assert.deepEqual(other.json(), { received: true, duplicate: false });
    assert.equal(await statusOf(db.pool, 'wh-1'), 'paid');
    const events = await db.pool.query('select id, type from invoicing.gateway_events order by id');
    assert.deepEqual(events.rows, [
      { id: 'evt_1', type: 'payment_intent.succeeded' },
      { id: 'evt_2', type: 'payment_intent.succeeded' },
    ]);
  });

  test('a past_due invoice paid through the gateway becomes paid, and its charge row too', async () => {
    await insertInvoice(db.pool, { id: 'wh-2', account: 'acct-wh2', total: '5.00', status: 'past_due' });
    await db.pool.query(
      `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts) values ('wh-2', 'pi_for_wh-2', 'past_due', 3)`,
    );
    const res = await post(http, delivery(succeeded('evt_3', 'wh-2'), await secret()));
    assert.equal(res.statusCode, 200);
    assert.equal(await statusOf(db.pool, 'wh-2'), 'paid');
    assert.equal((await chargeRow(db.pool, 'wh-2'))?.state, 'paid');
  });

  test('a bad signature, a missing one, an altered body or an old timestamp is a 400 and changes nothing', async () => {
    await insertInvoice(db.pool, { id: 'wh-bad', account: 'acct-bad', total: '5.00' });
    const good = delivery(succeeded('evt_bad', 'wh-bad'), await secret());
    const cases = [
      await post(http, delivery(succeeded('evt_bad', 'wh-bad'), 'whsec_not_ours')),
      await post(http, { payload: good.payload }),
      await post(http, { payload: good.payload.replace('wh-bad', 'wh-1'), signature: good.signature }),
      await post(http, delivery(succeeded('evt_bad', 'wh-bad'), await secret(), Math.floor(Date.now() / 1000) - 3600)),
    ];
    assert.deepEqual(
      cases.map((r) => r.statusCode),
      [400, 400, 400, 400],
    );
    assert.equal(await statusOf(db.pool, 'wh-bad'), 'finalized');
    assert.equal((await db.pool.query(`select 1 from invoicing.gateway_events where id = 'evt_bad'`)).rowCount, 0);
  });

  test('a flood of badly signed POSTs reads the stored secrets about once, not once each; a secret registered since is still found', async () => {
    const reads: string[] = [];
    const query = db.pool.query;
    // Counted on the real pool (restored below): the route's reads of the stored secrets.
    db.pool.query = ((...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('from invoicing.webhook_endpoints where secret')) reads.push(args[0]);
      return (query as (...a: unknown[]) => unknown).apply(db.pool, args);
    }) as typeof query;
    const fresh = createHttpApp(log);
    const prices = loadPriceBook();
    invoicingRoutes(fresh, {
      pool: db.pool,
      billing: createBilling({ pool: db.pool, prices, graceHours: 72 }),
      prices,
      adminToken: ADMIN,
      log,
      webhooks: { verifier: stripe.webhooks, secret: undefined },
    });
    await fresh.ready();
    try {
      await insertInvoice(db.pool, { id: 'wh-flood', account: 'acct-flood', total: '5.00' });
      const statuses = new Set<number>();
      for (let i = 0; i < 200; i++)
        statuses.add((await post(fresh, delivery(succeeded(`evt_flood_${i}`, 'wh-flood'), 'whsec_not_ours'))).statusCode);
      assert.deepEqual([...statuses], [400]);
      assert.ok(reads.length <= 2, `${reads.length} reads of the secrets for 200 bad POSTs`);
      // Another process registers the endpoint again (a new secret): once the last read is a second old, found.
      const before = await secret();
      await db.pool.query('update invoicing.webhook_endpoints set secret = $2 where url = $1', [URL_, 'whsec_registered_since']);
      await new Promise((r) => setTimeout(r, 1_100));
      const res = await post(
        fresh,
        delivery({ ...succeeded('evt_flood_new', 'wh-flood'), type: 'payment_intent.created' }, 'whsec_registered_since'),
      );
      await db.pool.query('update invoicing.webhook_endpoints set secret = $2 where url = $1', [URL_, before]);
      assert.equal(res.statusCode, 200, res.body);
    } finally {
      db.pool.query = query;
      await fresh.close();
    }
  });

  test('a correctly signed delivery dated 10 minutes ahead is a 400 naming the skew; 4 minutes either way is accepted', async () => {
    await insertInvoice(db.pool, { id: 'wh-future', account: 'acct-future', total: '5.00' });
    const now = Math.floor(Date.now() / 1000);
    const ahead = await post(http, delivery(succeeded('evt_future', 'wh-future'), await secret(), now + 600));
    assert.equal(ahead.statusCode, 400);
    assert.match(ahead.json().error, /dated (599|600|601) s ahead of our clock; at most 300 s either way/);
    assert.ok(log.lines.some((l) => /event=webhook\.rejected reason=timestamp/.test(l)));
    assert.equal(await statusOf(db.pool, 'wh-future'), 'finalized');
    assert.equal((await db.pool.query(`select 1 from invoicing.gateway_events where id = 'evt_future'`)).rowCount, 0);
    for (const [id, at] of [
      ['evt_soon', now + 240],
      ['evt_recent', now - 240],
    ] as const) {
      const ok = await post(http, delivery({ ...succeeded(id, 'wh-future'), type: 'payment_intent.created' }, await secret(), at));
      assert.equal(ok.statusCode, 200, `${id}: ${ok.body}`);
    }
    // Signed 10 minutes ahead, with a present `t=` put first: the SDK verifies the last `t=`,
    // so two are refused, never read as the first.
    const signed = delivery(succeeded('evt_two_stamps', 'wh-future'), await secret(), now + 600);
    const twoStamps = await post(http, { ...signed, signature: `t=${now},${signed.signature}` });
    assert.equal(twoStamps.statusCode, 400, twoStamps.body);
    assert.match(twoStamps.json().error, /has no single timestamp \(t=\)/);
    assert.equal(await statusOf(db.pool, 'wh-future'), 'finalized');
  });

  test('a correctly signed delivery dated 10 minutes behind (our clock fast) is a 400 naming the skew, not a bad signature', async () => {
    await insertInvoice(db.pool, { id: 'wh-late', account: 'acct-late', total: '5.00' });
    const now = Math.floor(Date.now() / 1000);
    const from = log.lines.length;
    const late = await post(http, delivery(succeeded('evt_late', 'wh-late'), await secret(), now - 600));
    assert.equal(late.statusCode, 400);
    assert.match(late.json().error, /dated (599|600|601) s behind our clock; at most 300 s either way/);
    const lines = log.lines.slice(from);
    assert.ok(
      lines.some((l) => /event=webhook\.rejected reason=timestamp skew_s=-(599|600|601)/.test(l)),
      lines.join('\n'),
    );
    assert.ok(!lines.some((l) => l.includes('reason=signature')), 'told as a clock problem, not a signature one');
    // Late and signed with another secret: the signature is what is wrong.
    const forged = await post(http, delivery(succeeded('evt_late', 'wh-late'), 'whsec_not_ours', now - 600));
    assert.match(forged.json().error, /the signature does not match the body/);
    assert.equal(await statusOf(db.pool, 'wh-late'), 'finalized');
    assert.equal((await db.pool.query(`select 1 from invoicing.gateway_events where id = 'evt_late'`)).rowCount, 0);
  });

  test('events other than payment_intent.succeeded are acknowledged and ignored', async () => {
    // payment_intent.payment_failed is handled too: payment-failed-webhook.test.ts.
    const canceled = { ...succeeded('evt_canceled', 'wh-bad'), type: 'payment_intent.canceled' };
    const res = await post(http, delivery(canceled, await secret()));
    assert.equal(res.statusCode, 200);
    assert.equal(await statusOf(db.pool, 'wh-bad'), 'finalized');
  });

  test("a payment that is not the invoice's own leaves it as it was: another PaymentIntent, another amount or currency, none stored yet", async () => {
    await chargedInvoice(db.pool, { id: 'wh-stray', account: 'acct-stray', total: '214.16', status: 'past_due' });
    await insertInvoice(db.pool, { id: 'wh-nopi', account: 'acct-nopi', total: '9.00' });
    const euro = succeeded('evt_stray_eur', 'wh-stray', 21416);
    euro.data.object.currency = 'eur';
    const attempts = [
      succeeded('evt_stray_50c', 'wh-stray', 50, 'pi_someone_elses'),
      succeeded('evt_stray_other_pi', 'wh-stray', 21416, 'pi_someone_elses'),
      succeeded('evt_stray_short', 'wh-stray', 21415),
      euro,
      succeeded('evt_stray_nopi', 'wh-nopi', 900),
      succeeded('evt_stray_unknown', 'no-such-invoice', 900),
    ];
    for (const event of attempts) {
      const res = await post(http, delivery(event, await secret()));
      assert.equal(res.statusCode, 200, 'answered, so the gateway does not retry it');
    }
    assert.equal(await statusOf(db.pool, 'wh-stray'), 'past_due');
    assert.equal(await statusOf(db.pool, 'wh-nopi'), 'finalized');
    const reasons = log.lines.filter((l) => l.includes('outcome=stray')).map((l) => /reason=(\S+)/.exec(l)?.[1]);
    assert.deepEqual(reasons.slice(-6), [
      'not_its_payment_intent',
      'not_its_payment_intent',
      'amount_mismatch',
      'currency_mismatch',
      'no_payment_intent_recorded',
      'unknown_invoice',
    ]);
    assert.ok(
      log.lines.filter((l) => l.includes('outcome=stray')).every((l) => l.includes('at=warn') && l.includes('count#webhooks.stray=1')),
    );
    // Its own PaymentIntent for its amount still pays it.
    await post(http, delivery(succeeded('evt_stray_own', 'wh-stray', 21416), await secret()));
    assert.equal(await statusOf(db.pool, 'wh-stray'), 'paid');
  });

  test('with GATEWAY_WEBHOOK_SECRET set, that secret verifies deliveries', async () => {
    await chargedInvoice(db.pool, { id: 'wh-conf', account: 'acct-conf', total: '5.00' });
    assert.equal((await post(configured, delivery(succeeded('evt_conf', 'wh-conf'), await secret()))).statusCode, 400);
    assert.equal((await post(configured, delivery(succeeded('evt_conf', 'wh-conf'), 'whsec_configured_by_hand'))).statusCode, 200);
    assert.equal(await statusOf(db.pool, 'wh-conf'), 'paid');
  });

  test("a password in INVOICING_URL is masked in the endpoint's log lines; the endpoint is registered with it, as configured", async () => {
    const url = webhookUrl('https://billing:hunter2-pass@billing.example.com/base');
    const registered: string[] = [];
    const gateway = new (class extends FakeGateway {
      override async registerWebhookEndpoint(u: string, key: string) {
        registered.push(u);
        return super.registerWebhookEndpoint(u, key);
      }
    })();
    const from = log.lines.length;
    await ensureWebhookEndpoint(db.pool, gateway, url, log); // registered
    await ensureWebhookEndpoint(db.pool, gateway, url, log); // reused
    gateway.endpoints.clear();
    await ensureWebhookEndpoint(db.pool, gateway, url, log); // missing, registered again
    const lines = log.lines.slice(from).filter((l) => l.includes('event=webhook_endpoint.'));
    assert.deepEqual(
      lines.map((l) => /event=(\S+)/.exec(l)?.[1]),
      ['webhook_endpoint.registered', 'webhook_endpoint.reused', 'webhook_endpoint.missing', 'webhook_endpoint.registered'],
    );
    for (const line of lines) {
      assert.ok(!line.includes('hunter2-pass'), line);
      assert.ok(line.includes('https://billing:***@billing.example.com/base/v1/gateway/webhooks'), line);
    }
    assert.deepEqual(registered, [url, url], 'registered with its credentials');
    await db.pool.query('delete from invoicing.webhook_endpoints where url = $1', [url]);
  });
});
