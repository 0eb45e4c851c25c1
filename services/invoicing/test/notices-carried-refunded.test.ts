// Two notices beyond api.md's list: `invoice.carried` (a small total carried
// onto the account's next invoice, told when finalize makes the small invoice
// `carried`) and `invoice.refunded` (a refund makes the invoice `refunded`,
// told by the charge.refunded webhook). Each told once, in the transaction of
// its change, listed by GET /v1/notices and published from the outbox like the
// others; neither emailed. Real PostgreSQL; migration 023 widens the check.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import type { Bus, OutgoingMessage } from '@vault/bus';
import { type Notice, NoticeList } from '@vault/contracts';
import { gatewayClient } from '@vault/gateway';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { NOTICE_KAFKA_HEADERS } from '../src/notices/notice.ts';
import { NoticeLog, publishPending } from '../src/notices/publisher.ts';
import { chargingDatabase, deliverSigned, insertInvoice, webhookApp } from './charging-fixture.ts';
import { billingDatabase, databaseBeforeMigration, seedOwners, seedUsage } from './seed.ts';

const ADMIN = 'carried-refunded-admin-token-0123456789';
const TOPIC = 'platform.billing-notices.v1';

/** Every notice of GET /v1/notices, page by page, each checked against the contract. */
async function listed(http: FastifyInstance): Promise<Notice[]> {
  const out: Notice[] = [];
  for (let after = '0'; ; ) {
    const res = await http.inject({
      method: 'GET',
      url: `/v1/notices?after=${after}&limit=2`,
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    const page = NoticeList.parse(res.json());
    if (page.next_after === null) return out;
    out.push(...page.notices);
    after = page.next_after;
  }
}

/** What the publisher sends to the topic from the outbox, through a bus that records it. */
async function published(db: TestDatabase): Promise<OutgoingMessage[]> {
  const sent: OutgoingMessage[] = [];
  const bus = {
    kind: 'kafka',
    describeLog: async () => ({ id: 'kafka:test/notices/1', partitions: 3 }),
    publish: async (topic: string, messages: OutgoingMessage[]) => {
      assert.equal(topic, TOPIC);
      sent.push(...messages);
    },
  } as unknown as Bus;
  const log = new NoticeLog(bus, TOPIC);
  while ((await publishPending(db.pool, bus, log)) > 0);
  return sent;
}

const emailsOf = async (db: TestDatabase, type: string) =>
  (
    await db.pool.query<{ n: number }>(
      'select count(*)::int as n from invoicing.email_deliveries e join invoicing.notices n on n.id = e.notice_id where n.type = $1',
      [type],
    )
  ).rows[0]!.n;

describe('invoice.carried: a small invoice carried onto the next one', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
  let billing: ReturnType<typeof createBilling>;
  const invoiceOf = async (period: string) =>
    (await http.inject({ method: 'GET', url: '/v1/accounts/acct-small/invoices', headers: { authorization: `Bearer ${ADMIN}` } }))
      .json()
      .invoices.find((i: { period: string }) => i.period === period);

  before(async () => {
    db = await billingDatabase();
    const prices = loadPriceBook();
    billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    http = createHttpApp(memoryLogger());
    invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken: ADMIN, log: memoryLogger() });
    await http.ready();
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('told once when the next month is finalized (finalize again: still once), on GET /v1/notices and published from the outbox; no email', async () => {
    await seedOwners(db.pool, [{ app: 'small-app', account: 'acct-small', from: '2026-09-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      // September: 1/30 × 7.00 = 0.23 (below 0.50). October: 2/31 × 7.00 = 0.45, + 0.23 carried = 0.68.
      { app: 'small-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-09-10T00:00:00Z', to: '2026-09-11T00:00:00Z' },
      { app: 'small-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-10T00:00:00Z', to: '2026-10-12T00:00:00Z' },
    ]);
    await billing.finalize('2026-09');
    const september = await invoiceOf('2026-09');
    assert.deepEqual([september.total, september.status], ['0.23', 'finalized']);
    assert.deepEqual(
      (await listed(http)).map((n) => n.type),
      ['invoice.finalized'],
      'nothing carried yet',
    );

    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-10');
    const october = await invoiceOf('2026-10');
    assert.equal((await invoiceOf('2026-09')).status, 'carried');
    // Again, and the month after (nothing carried then): September's is told once.
    await billing.finalize('2026-10');
    clock = DateTime.fromISO('2026-12-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-11');

    const notices = await listed(http);
    const carried = notices.filter((n) => n.type === 'invoice.carried');
    assert.equal(carried.length, 1, JSON.stringify(notices.map((n) => n.id)));
    const told = carried[0]!;
    assert.equal(told.id, `invoice.carried:${september.id}`);
    assert.equal(told.subject, september.id);
    assert.deepEqual(told.data, {
      account_id: 'acct-small',
      invoice_id: september.id,
      number: september.number,
      period: '2026-09',
      total: '0.23',
      currency: 'USD',
      status: 'carried',
      carried_by: { invoice_id: october.id, number: october.number, period: '2026-10' },
    });
    // At the instant the carrying invoice was finalized, right after October's invoice.finalized.
    const finalizedOctober = notices.find((n) => n.id === `invoice.finalized:${october.id}`)!;
    assert.equal(told.time, finalizedOctober.time);
    assert.equal(notices.indexOf(told), notices.indexOf(finalizedOctober) + 1);

    const sent = await published(db);
    const onTopic = sent.filter((m) => JSON.parse(String(m.value)).type === 'invoice.carried');
    assert.equal(onTopic.length, 1);
    assert.equal(onTopic[0]!.key, 'acct-small');
    assert.deepEqual(onTopic[0]!.headers, NOTICE_KAFKA_HEADERS);
    assert.deepEqual(JSON.parse(String(onTopic[0]!.value)), told, 'the same event on the topic and on GET /v1/notices');
    assert.equal(await emailsOf(db, 'invoice.carried'), 0, 'not emailed');
  });
});

describe('invoice.refunded: a whole refund heard by charge.refunded', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const SECRET = 'whsec_refunded_notice_tests';
  const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });
  const refunded = (id: string, invoiceId: string, amountRefunded: number) => ({
    id,
    object: 'event',
    type: 'charge.refunded',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    data: {
      object: {
        id: `ch_${invoiceId}`,
        object: 'charge',
        payment_intent: `pi_${invoiceId}`,
        amount: 5000,
        amount_refunded: amountRefunded,
        currency: 'usd',
      },
    },
  });
  const deliver = async (e: object) => {
    const res = await deliverSigned(http, e, SECRET);
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  const toldOf = async (invoiceId: string) => (await listed(http)).filter((n) => n.type === 'invoice.refunded' && n.subject === invoiceId);

  before(async () => {
    db = await chargingDatabase();
    http = await webhookApp(db.pool, { log: memoryLogger(), verifier: stripe.webhooks, secret: SECRET, adminToken: ADMIN });
    for (const id of ['rn-1', 'rn-2']) {
      await insertInvoice(db.pool, { id, account: `acct-${id}`, total: '50.00', status: 'paid' });
      await db.pool.query(`insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts) values ($1, $2, 'paid', 1)`, [
        id,
        `pi_${id}`,
      ]);
    }
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('a partial refund is not told; the one that makes it refunded is, once (the same webhook again, or a later copy: still once)', async () => {
    await deliver(refunded('evt_rn_part', 'rn-1', 1250));
    assert.deepEqual(await toldOf('rn-1'), [], 'a partial refund: still paid, nothing told');
    await deliver(refunded('evt_rn_whole', 'rn-1', 5000));
    assert.deepEqual(await deliver(refunded('evt_rn_whole', 'rn-1', 5000)), { received: true, duplicate: true });
    await deliver(refunded('evt_rn_whole_again', 'rn-1', 5000));

    const told = await toldOf('rn-1');
    assert.equal(told.length, 1, JSON.stringify(told));
    assert.equal(told[0]!.id, 'invoice.refunded:rn-1');
    const { rows } = await db.pool.query<{ number: string }>(`select number from invoicing.invoices where id = 'rn-1'`);
    assert.deepEqual(told[0]!.data, {
      account_id: 'acct-rn-1',
      invoice_id: 'rn-1',
      number: rows[0]!.number,
      period: '2026-10',
      total: '50.00',
      currency: 'USD',
      status: 'refunded',
      amount_refunded: '50.00',
      charge_id: 'ch_rn-1',
    });
  });

  test('a whole refund at once is told; published from the outbox like the others; no email', async () => {
    await deliver(refunded('evt_rn_2', 'rn-2', 5000));
    await deliver(refunded('evt_rn_2', 'rn-2', 5000));
    const told = await toldOf('rn-2');
    assert.deepEqual(
      told.map((n) => [n.id, n.data.status, n.data.amount_refunded]),
      [['invoice.refunded:rn-2', 'refunded', '50.00']],
    );
    const sent = (await published(db)).filter((m) => JSON.parse(String(m.value)).type === 'invoice.refunded');
    assert.deepEqual(
      sent.map((m) => [m.key, JSON.parse(String(m.value)).id]),
      [
        ['acct-rn-1', 'invoice.refunded:rn-1'],
        ['acct-rn-2', 'invoice.refunded:rn-2'],
      ],
    );
    assert.equal(await emailsOf(db, 'invoice.refunded'), 0, 'not emailed');
  });
});

describe('migration 023: the notices’ type check takes the two new types', () => {
  test('refused before it, taken after it; an unknown type is still refused', async () => {
    const older = await databaseBeforeMigration('notices_types', '023');
    try {
      const insert = (id: string, type: string) =>
        older.db.pool.query(`insert into invoicing.notices (id, type, account_id, event) values ($1, $2, 'acct-m', '{}')`, [id, type]);
      await assert.rejects(insert('c-0', 'invoice.carried'), /notices_type_check/);
      await older.migrateRest();
      await insert('c-1', 'invoice.carried');
      await insert('r-1', 'invoice.refunded');
      await insert('f-1', 'invoice.finalized');
      await assert.rejects(insert('x-1', 'invoice.other'), /notices_type_check/);
    } finally {
      await older.drop();
    }
  });
});
