// Issue 17: money owed is never lost. The credit ledger through finalize, the
// drafts and the HTTP API, on the real PostgreSQL: a negative month leaves
// 0.00 and a credit; grants count once; the credit expiring first is used
// first and what expires is written off; small totals are carried.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { createToken } from '../src/access/tokens.ts';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { billingDatabase, seedOwners, seedStop, seedUsage } from './seed.ts';

const ADMIN = 'credits-admin-token-0123456789abcdef';
const prices = loadPriceBook();

describe('the credit balance through finalize, drafts and the API', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  let clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
  let billing: ReturnType<typeof createBilling>;
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const get = (url: string, token = ADMIN) => http.inject({ method: 'GET', url, headers: as(token) });
  const grant = (account: string, body: object, token = ADMIN) =>
    http.inject({ method: 'POST', url: `/v1/accounts/${account}/credits`, headers: as(token), payload: body });
  const balance = async (account: string) => (await get(`/v1/accounts/${account}/balance`)).json().credit as string;
  const invoiceOf = async (account: string, period: string) =>
    (await get(`/v1/accounts/${account}/invoices`)).json().invoices.find((i: { period: string }) => i.period === period);
  const entries = async (account: string) =>
    (
      await db.pool.query<{ kind: string; amount: string }>(
        'select kind, amount::text from invoicing.credit_entries where account_id = $1 order by at, created_at, kind',
        [account],
      )
    ).rows.map((r) => `${r.kind} ${r.amount}`);

  before(async () => {
    db = await billingDatabase();
    billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    http = createHttpApp(memoryLogger());
    invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken: ADMIN, log: memoryLogger() });
    await http.ready();
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  test('a late credit larger than the next month: that invoice is 0.00 with its subtotal below zero, the rest is the balance, and the next month uses it', async () => {
    await seedOwners(db.pool, [{ app: 'late-app', account: 'acct-late', from: '2026-09-01T00:00:00Z' }]);
    // web.1 runs with no stop: September bills it to the month's end.
    await seedUsage(db.pool, [
      { app: 'late-app', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2026-09-01T00:00:00Z' },
      { app: 'late-app', kind: 'dyno', key: 'worker.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z', to: '2026-10-11T00:00:00Z' },
      {
        app: 'late-app',
        kind: 'dyno',
        key: 'run.1',
        product: 'dyno:standard-1x',
        from: '2026-11-01T00:00:00Z',
        to: '2026-12-01T00:00:00Z',
      },
    ]);
    await billing.finalize('2026-09');
    assert.equal((await invoiceOf('acct-late', '2026-09')).total, '25.00');
    // It stopped on Sep 2: 25.00 × 1/30 = 0.83 was due, so 24.17 comes back.
    await seedStop(db.pool, 'late-app', 'web.1', '2026-09-02T00:00:00Z');
    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-10');
    const october = await invoiceOf('acct-late', '2026-10');
    // worker.1: 10/31 × 7.00 = 2.26; with the credit of 24.17 the lines sum to −21.91.
    assert.deepEqual([october.subtotal, october.credit_applied, october.total], ['-21.91', '0.00', '0.00']);
    assert.equal(await balance('acct-late'), '21.91');
    assert.deepEqual(await entries('acct-late'), ['invoice_remainder 21.91']);

    clock = DateTime.fromISO('2026-11-20T00:00:00Z', { zone: 'utc' });
    const draft = (await get('/v1/accounts/acct-late/usage?period=2026-11')).json();
    // This month's draft uses the balance: run.1 up to now is 19/30 × 25.00 = 15.83.
    assert.deepEqual([draft.subtotal, draft.credit_applied, draft.total], ['15.83', '15.83', '0.00']);
    const projected = (await get('/v1/accounts/acct-late/usage')).json();
    assert.equal(projected.credit_applied, '15.83');
    clock = DateTime.fromISO('2026-12-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-11');
    const november = await invoiceOf('acct-late', '2026-11');
    assert.deepEqual([november.subtotal, november.credit_applied, november.total], ['25.00', '21.91', '3.09']);
    assert.equal(await balance('acct-late'), '0.00');
    assert.deepEqual(await entries('acct-late'), ['invoice_remainder 21.91', 'applied -21.91']);
  });

  test('a grant sent twice counts once: 201, then 200 with the same grant; other values 409; the balance counts it once', async () => {
    // An account with no usage yet: said to be new (a grant to an account never seen is 422 otherwise).
    const body = { id: 'goodwill-1', amount: '10.00', reason: 'sorry for the outage', new_account: true };
    const first = await grant('acct-grant', body);
    assert.equal(first.statusCode, 201, first.body);
    assert.deepEqual(
      { ...(first.json() as object), granted_at: undefined },
      {
        id: 'goodwill-1',
        account_id: 'acct-grant',
        amount: '10.00',
        currency: 'USD',
        reason: 'sorry for the outage',
        expires_at: null,
        granted_at: undefined,
      },
    );
    const again = await grant('acct-grant', body);
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json(), first.json());
    assert.equal(await balance('acct-grant'), '10.00');
    // The same amount written another way is the same grant (compared as amounts, not text).
    const written = await grant('acct-grant', { ...body, amount: '010.00' });
    assert.equal(written.statusCode, 200, written.body);
    assert.deepEqual(written.json(), first.json());
    const other = await grant('acct-grant', { ...body, amount: '20.00' });
    assert.equal(other.statusCode, 409);
    assert.match(other.json().error, /already granted with another amount; nothing changed/);
    assert.equal(await balance('acct-grant'), '10.00');
    assert.deepEqual(await entries('acct-grant'), ['grant 10.00']);
  });

  test('a grant sent again after its expiry passed (a client retrying late) is the grant it was: 200, not a 400; a new grant expiring in the past is still refused', async () => {
    const body = { id: 'late-retry-1', amount: '3.00', reason: 'promo', expires_at: clock.plus({ days: 1 }).toISO()!, new_account: true };
    assert.equal((await grant('acct-late-retry', body)).statusCode, 201);
    const saved = clock;
    clock = clock.plus({ days: 2 });
    try {
      const again = await grant('acct-late-retry', body);
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(again.json().id, 'late-retry-1');
      const fresh = await grant('acct-late-retry', { ...body, id: 'late-retry-2' });
      assert.equal(fresh.statusCode, 400, fresh.body);
      assert.match(fresh.body, /expires_at/);
    } finally {
      clock = saved;
    }
  });

  test('a bad grant is a 400 naming the field; only the admin grants; an account reads its own balance, another account’s is 404', async () => {
    const bad = async (body: unknown, field: string) => {
      const res = await http.inject({
        method: 'POST',
        url: '/v1/accounts/acct-grant/credits',
        headers: as(ADMIN),
        payload: body as object,
      });
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.ok(
        res.json().fields.some((f: { field: string }) => f.field === field),
        `${JSON.stringify(body)} names ${field}: ${res.body}`,
      );
    };
    await bad({ id: 'g', amount: '10', reason: 'r' }, 'amount');
    await bad({ id: 'g', amount: 10, reason: 'r' }, 'amount');
    await bad({ id: 'g', amount: '0.00', reason: 'r' }, 'amount');
    await bad({ id: 'g', amount: '-1.00', reason: 'r' }, 'amount');
    await bad({ id: 'g', amount: '1.00' }, 'reason');
    await bad({ amount: '1.00', reason: 'r' }, 'id');
    await bad({ id: 'g h', amount: '1.00', reason: 'r' }, 'id');
    await bad({ id: 'g', amount: '1.00', reason: 'r', expires_at: 'soon' }, 'expires_at');
    await bad({ id: 'g', amount: '1.00', reason: 'r', expires_at: '2020-01-01T00:00:00Z' }, 'expires_at');
    await bad({ id: 'g', amount: '1.00', reason: 'r', extra: 1 }, 'extra');
    assert.equal(await balance('acct-grant'), '10.00', 'nothing refused was recorded');

    const own = await createToken(db.pool, { kind: 'account', accountId: 'acct-grant' });
    const finance = await createToken(db.pool, { kind: 'finance' });
    assert.equal((await grant('acct-grant', { id: 'self', amount: '1.00', reason: 'r' }, own)).statusCode, 403);
    assert.equal((await grant('acct-grant', { id: 'fin', amount: '1.00', reason: 'r' }, finance)).statusCode, 403);
    assert.deepEqual((await get('/v1/accounts/acct-grant/balance', own)).json(), {
      account_id: 'acct-grant',
      currency: 'USD',
      credit: '10.00',
    });
    assert.equal((await get('/v1/accounts/acct-other/balance', own)).statusCode, 404);
    assert.equal((await get('/v1/accounts/acct-grant/balance', finance)).statusCode, 403);
    assert.equal((await get('/v1/accounts/acct-nobody/balance')).json().credit, '0.00');
  });

  test('the credit that expires first is used first; what is left of an expired grant is written off at the next finalize and never applied', async () => {
    clock = DateTime.fromISO('2026-09-10T00:00:00Z', { zone: 'utc' });
    await seedOwners(db.pool, [{ app: 'exp-app', account: 'acct-exp', from: '2026-09-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      // September: 30/30 × 7.00 = 7.00; October: 31/31 × 7.00 = 7.00.
      { app: 'exp-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-09-01T00:00:00Z', to: '2026-11-01T00:00:00Z' },
    ]);
    const lots = [
      { id: 'forever', amount: '5.00', reason: 'never expires' },
      { id: 'late', amount: '4.00', reason: 'expires in November', expires_at: '2026-11-20T00:00:00Z' },
      { id: 'soon', amount: '3.00', reason: 'expires in October', expires_at: '2026-10-10T00:00:00Z' },
    ];
    for (const l of lots) assert.equal((await grant('acct-exp', l)).statusCode, 201);
    assert.equal(await balance('acct-exp'), '12.00');
    clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-09');
    const september = await invoiceOf('acct-exp', '2026-09');
    // 7.00: 3.00 from `soon`, then 4.00 from `late`; `forever` untouched.
    assert.deepEqual([september.subtotal, september.credit_applied, september.total], ['7.00', '7.00', '0.00']);
    const used = await db.pool.query<{ grant_id: string; amount: string }>(
      `select l.grant_id, a.amount::text from invoicing.credit_entries a join invoicing.credit_entries l on l.id = a.lot_id
        where a.kind = 'applied' and a.account_id = 'acct-exp' order by l.grant_id`,
    );
    assert.deepEqual(
      used.rows.map((r) => `${r.grant_id} ${r.amount}`),
      ['late -4.00', 'soon -3.00'],
    );
    assert.equal(await balance('acct-exp'), '5.00');

    // A grant that expires before October is finalized: nothing of it is applied.
    clock = DateTime.fromISO('2026-10-20T00:00:00Z', { zone: 'utc' });
    assert.equal(
      (await grant('acct-exp', { id: 'brief', amount: '1.50', reason: 'r', expires_at: '2026-11-01T00:00:00Z' })).statusCode,
      201,
    );
    assert.equal(await balance('acct-exp'), '6.50');
    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    assert.equal(await balance('acct-exp'), '5.00', 'an expired grant leaves the balance at its expiry');
    await billing.finalize('2026-10');
    const october = await invoiceOf('acct-exp', '2026-10');
    assert.deepEqual([october.subtotal, october.credit_applied, october.total], ['7.00', '5.00', '2.00']);
    assert.deepEqual(
      (await entries('acct-exp')).filter((e) => e.startsWith('expired')),
      ['expired -1.50'],
    );
    assert.equal(await balance('acct-exp'), '0.00');
  });

  test('a total below 0.50 is not charged but carried onto the next invoice as a line naming its month; it is carried once', async () => {
    clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
    await seedOwners(db.pool, [{ app: 'tiny-app', account: 'acct-tiny', from: '2026-09-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      // September: 1/30 × 7.00 = 0.23. October: 2/31 × 7.00 = 0.45. November: 25.00.
      { app: 'tiny-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-09-10T00:00:00Z', to: '2026-09-11T00:00:00Z' },
      { app: 'tiny-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-10T00:00:00Z', to: '2026-10-12T00:00:00Z' },
      {
        app: 'tiny-app',
        kind: 'dyno',
        key: 'web.2',
        product: 'dyno:standard-1x',
        from: '2026-11-01T00:00:00Z',
        to: '2026-12-01T00:00:00Z',
      },
    ]);
    await billing.finalize('2026-09');
    const september = await invoiceOf('acct-tiny', '2026-09');
    assert.deepEqual([september.total, september.status], ['0.23', 'finalized']);
    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    const draft = (await get('/v1/accounts/acct-tiny/usage?period=2026-10')).json();
    assert.deepEqual(
      draft.lines
        .filter((l: { kind: string }) => l.kind === 'carried')
        .map((l: { key: string; amount: string; adjusts: string }) => [l.key, l.amount, l.adjusts]),
      [[september.number, '0.23', '2026-09']],
    );
    await billing.finalize('2026-10');
    const october = await invoiceOf('acct-tiny', '2026-10');
    // 0.45 + 0.23 = 0.68: above the minimum, so October is charged and September is carried.
    assert.deepEqual([october.subtotal, october.total], ['0.68', '0.68']);
    const carried = october.lines.find((l: { kind: string }) => l.kind === 'carried');
    assert.match(
      carried.description,
      /^Carried from 2026-09 \(invoice 2026-09-\d{6}\): 0\.23 USD is below the smallest charge of 0\.50 USD$/,
    );
    assert.equal((await invoiceOf('acct-tiny', '2026-09')).status, 'carried');
    clock = DateTime.fromISO('2026-12-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-11');
    const november = await invoiceOf('acct-tiny', '2026-11');
    assert.deepEqual(
      november.lines.filter((l: { kind: string }) => l.kind === 'carried'),
      [],
      'carried once',
    );
  });

  test('credits.csv: the ledger entries dated in the month, in order, and a control row of their count and sum', async () => {
    const finance = await createToken(db.pool, { kind: 'finance' });
    const res = await get('/v1/exports/credits.csv?period=2026-10', finance);
    assert.equal(res.statusCode, 200, res.body);
    const rows = res.body
      .trimEnd()
      .split('\r\n')
      .map((r) => r.split(','));
    assert.deepEqual(rows[0], [
      'at',
      'id',
      'account_id',
      'kind',
      'amount',
      'currency',
      'grant_id',
      'lot_id',
      'invoice_number',
      'expires_at',
      'reason',
    ]);
    const data = rows.slice(1, -1);
    // October's: what September's invoice of acct-exp drew (finalized Oct 5), and the grant made on Oct 20.
    assert.deepEqual(
      data.map((r) => [r[0], r[2], r[3], r[4], r[6]]),
      [
        ['2026-10-05T00:00:00.000Z', 'acct-exp', 'applied', '-3.00', ''],
        ['2026-10-05T00:00:00.000Z', 'acct-exp', 'applied', '-4.00', ''],
        ['2026-10-20T00:00:00.000Z', 'acct-exp', 'grant', '1.50', 'brief'],
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)),
    );
    assert.deepEqual(rows.at(-1), ['TOTAL', '3', '', '', '-5.50', 'USD', '', '', '', '', '']);
  });
});
