// Notices (api.md "Notices"): each change of charging written with its notice
// in one transaction, once; GET /v1/notices oldest first, paged by a cursor
// that never passes a notice committed late; bad parameters named; admin only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { withTransaction } from '@vault/db';
import { Notice, NoticeList } from '@vault/contracts';
import { createHttpApp, memoryLogger, requireBearer } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { createToken, INVOICING_REACH, invoicingVerifier } from '../src/access/tokens.ts';
import { chargePass } from '../src/charging/charger.ts';
import type { ChargeGateway } from '../src/charging/gateway-calls.ts';
import { readPaymentStates } from '../src/charging/payment-state.ts';
import { accountNotice } from '../src/notices/notice.ts';
import { noticesOf, recordNotice } from '../src/notices/outbox.ts';
import { noticeRoutes } from '../src/notices/routes.ts';
import { chargeRow, chargingDatabase, FakeGateway, insertInvoice, putCard } from './charging-fixture.ts';

const ADMIN = 'notices-admin-token-0123456789abcdef';

/** The in-memory gateway, where a payment method named pm_3ds* needs its cardholder (402 authentication_required). */
function gatewayWith3ds(): ChargeGateway & { fake: FakeGateway } {
  const fake = new FakeGateway();
  return {
    fake,
    createPaymentIntent: (p) => fake.createPaymentIntent(p),
    confirm: async (c) =>
      c.paymentMethodId.startsWith('pm_3ds')
        ? { kind: 'action_required', code: 'authentication_required', message: 'This transaction requires authentication.' }
        : fake.confirm(c),
    registerWebhookEndpoint: (u, k) => fake.registerWebhookEndpoint(u, k),
    webhookEndpointExists: (id) => fake.webhookEndpointExists(id),
    retrievePaymentIntent: (id) => fake.retrievePaymentIntent(id),
    listDisputes: (id) => fake.listDisputes(id),
    cancelPaymentIntent: (id) => fake.cancelPaymentIntent(id),
  };
}

describe('notices: the outbox, its order and GET /v1/notices', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let accountToken: string;
  const get = async (url: string, token = ADMIN) => {
    const res = await http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    return { status: res.statusCode, body: res.json() };
  };
  /** Every notice from `after` on, page by page. */
  const readAll = async (after = '0', limit = 1000) => {
    const notices: Notice[] = [];
    let cursor = after;
    for (;;) {
      const { status, body } = await get(`/v1/notices?after=${cursor}&limit=${limit}`);
      assert.equal(status, 200, JSON.stringify(body));
      const page = NoticeList.parse(body);
      if (page.next_after === null) return { notices, cursor };
      notices.push(...page.notices);
      cursor = page.next_after;
    }
  };

  before(async () => {
    db = await chargingDatabase();
    http = createHttpApp(memoryLogger());
    // The reach table's routes are not all here; /v1/notices is in none of it (admin only), as below.
    requireBearer(http, invoicingVerifier(db.pool, ADMIN), { reach: {} });
    noticeRoutes(http, { pool: db.pool });
    await http.ready();
    accountToken = await createToken(db.pool, { kind: 'account', accountId: 'acct-ok' });
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('a charging pass tells each change once, in its transaction: paid, each decline, past_due (after the last decline, or without a card), action_required (not retried)', async () => {
    await insertInvoice(db.pool, { id: 'inv-ok', account: 'acct-ok', total: '52.58' });
    await insertInvoice(db.pool, { id: 'inv-declined', account: 'acct-declined', total: '10.00' });
    await insertInvoice(db.pool, { id: 'inv-nocard', account: 'acct-nocard', total: '12.00' });
    await insertInvoice(db.pool, { id: 'inv-3ds', account: 'acct-3ds', total: '30.00' });
    await putCard(db.pool, 'acct-ok', 'pm_ok_1');
    await putCard(db.pool, 'acct-declined', 'pm_decline_1');
    await putCard(db.pool, 'acct-3ds', 'pm_3ds_1');
    const gateway = gatewayWith3ds();
    for (let pass = 0; pass < 5; pass++) {
      await chargePass({ pool: db.pool, gateway, retrySchedule: [0.001, 0.001], log: memoryLogger() });
      await new Promise((r) => setTimeout(r, 5)); // past the retry's millisecond wait
    }
    const told = async (account: string) => (await noticesOf(db.pool, account)).map((n) => `${n.type}:${n.data.status}`);
    assert.deepEqual(await told('acct-ok'), ['invoice.paid:paid']);
    assert.deepEqual(await told('acct-declined'), [
      'invoice.payment_failed:finalized',
      'invoice.payment_failed:finalized',
      'invoice.payment_failed:past_due',
      'invoice.past_due:past_due',
    ]);
    assert.deepEqual(await told('acct-nocard'), ['invoice.past_due:past_due']);
    // Asked once, never retried as a decline; past due once the schedule's span (2 ms here) has passed.
    assert.deepEqual(await told('acct-3ds'), ['invoice.action_required:action_required', 'invoice.past_due:past_due']);
    const failures = await noticesOf(db.pool, 'acct-declined');
    assert.deepEqual(
      failures.map((n) => n.id),
      [
        'invoice.payment_failed:inv-declined:1',
        'invoice.payment_failed:inv-declined:2',
        'invoice.payment_failed:inv-declined:3',
        'invoice.past_due:inv-declined',
      ],
    );
    assert.equal(failures[0]!.data.reason, 'Your card was declined.');
    assert.equal((await chargeRow(db.pool, 'inv-3ds'))!.attempts, 1, 'one attempt: waiting for the cardholder is not retried');

    // What the pages read: the payment state of each invoice, in words.
    const { rows } = await db.pool.query(`select id, status, total::text, currency, amount_refunded::text from invoicing.invoices`);
    const states = await readPaymentStates(db.pool, rows);
    const paid = states.get('inv-ok')!;
    assert.equal(paid.kind, 'paid');
    assert.ok(
      paid.kind === 'paid' && paid.at instanceof Date && paid.card?.brand === 'visa' && paid.card.last4 === '4242',
      JSON.stringify(paid),
    );
    assert.deepEqual(
      { ...states.get('inv-declined')!, since: undefined },
      { kind: 'past_due', why: 'declined', reason: 'Your card was declined.', since: undefined },
    );
    assert.equal(states.get('inv-nocard')!.kind, 'past_due');
    const waiting = states.get('inv-3ds')!;
    assert.ok(waiting.kind === 'action_required' && waiting.paymentIntentId.startsWith('pi_') && waiting.paymentMethodId === 'pm_3ds_1');

    // Another card for the 3-D Secure account starts a new round: charged at once, paid, told once more.
    await putCard(db.pool, 'acct-3ds', 'pm_ok_3ds');
    await chargePass({ pool: db.pool, gateway, retrySchedule: [0.001, 0.001], log: memoryLogger() });
    assert.deepEqual(await told('acct-3ds'), ['invoice.action_required:action_required', 'invoice.past_due:past_due', 'invoice.paid:paid']);
  });

  test('GET /v1/notices lists every notice oldest first; pages of 1 give the same; a notice committed late is not passed by the cursor', async () => {
    const whole = await readAll();
    assert.equal(whole.notices.length, 9, JSON.stringify(whole.notices.map((n) => n.id)));
    const oneByOne = await readAll('0', 1);
    assert.deepEqual(
      oneByOne.notices.map((n) => n.id),
      whole.notices.map((n) => n.id),
    );
    assert.deepEqual(oneByOne.notices, whole.notices, 'the same bodies at every read');

    // A transaction writes a notice and stays open while a later one commits and is read.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let written!: () => void;
    const inside = new Promise<void>((r) => (written = r));
    const late = withTransaction(db.pool, async (client) => {
      await recordNotice(client, accountNotice('account.suspended', 'acct-late', 1, new Date()));
      written();
      await held;
    });
    await inside;
    await withTransaction(db.pool, (client) => recordNotice(client, accountNotice('account.suspended', 'acct-early', 1, new Date())));
    const first = await readAll(whole.cursor);
    assert.deepEqual(
      first.notices.map((n) => n.subject),
      ['acct-early'],
    );
    release();
    await late;
    const second = await readAll(first.cursor);
    assert.deepEqual(
      second.notices.map((n) => n.subject),
      ['acct-late'],
      'the notice committed late comes after the cursor',
    );
  });

  test('every notice is a CloudEvent 1.0 of api.md: source vault-invoicing, data with account_id and, for invoice types, invoice_id, period, total and status', async () => {
    const { notices } = await readAll();
    for (const n of notices) {
      Notice.parse(n);
      assert.equal(n.source, 'vault-invoicing');
      if (n.type.startsWith('invoice.')) {
        for (const field of ['invoice_id', 'period', 'total', 'status']) assert.ok(n.data[field] !== undefined, `${n.id} has ${field}`);
      }
    }
  });

  test('a bad cursor or limit (or an unknown parameter) is a 400 naming it; only the admin reads notices', async () => {
    for (const [query, field] of [
      ['after=abc', 'after'],
      ['after=-1', 'after'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['since=0', 'since'],
    ] as const) {
      const { status, body } = await get(`/v1/notices?${query}`);
      assert.equal(status, 400, query);
      assert.equal(body.fields[0].field, field, JSON.stringify(body));
    }
    // A cursor past the newest position no page handed out (a restore, another environment): refused, not an
    // empty page that would read as "nothing new" while the notices numbered up to it are never read.
    const whole = await readAll();
    const beyond = String(BigInt(whole.cursor) + 2n);
    const ahead = await get(`/v1/notices?after=${beyond}`);
    assert.equal(ahead.status, 400, JSON.stringify(ahead.body));
    assert.equal(ahead.body.fields[0].field, 'after');
    assert.match(ahead.body.error, new RegExp(`no notice has position ${beyond}: the newest is ${whole.cursor}`));
    // The newest position itself is a cursor handed out: an empty page, ask again.
    assert.deepEqual((await get(`/v1/notices?after=${whole.cursor}`)).body, { notices: [], next_after: null });
    assert.ok(!Object.keys(INVOICING_REACH).includes('GET /v1/notices'), 'no token kind but the admin is given the route');
    assert.equal((await get('/v1/notices', accountToken)).status, 403, "an account's token");
    assert.equal((await http.inject({ method: 'GET', url: '/v1/notices' })).statusCode, 401);
  });
});
