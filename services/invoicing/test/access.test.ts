// Who reaches what (api.md, "Access"): an account's token only its own account
// (others answer 404, as if they did not exist); finance only exports and holds
// (403 elsewhere); a publisher's token no invoicing route (403); a revoked or
// expired token, like none or an unknown one, 401. Every bearer route, every
// kind of principal.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { createToken, issueToken, lookupToken, revokeToken, tokenHash } from '../src/access/tokens.ts';
import { createBilling } from '../src/billing/service.ts';
import { invoiceId } from '../src/domain/invoice.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

const ADMIN = 'access-admin-token-0123456789abcdef';
type Who = 'none' | 'bogus' | 'expired' | 'revoked' | 'own' | 'other' | 'finance' | 'publisher' | 'admin';
const WHO: Who[] = ['none', 'bogus', 'expired', 'revoked', 'own', 'other', 'finance', 'publisher', 'admin'];
const NOBODY = { none: 401, bogus: 401, expired: 401, revoked: 401 } as const;

/** Each bearer route, and the status each principal gets (own = acct-a, other = acct-b; expired and revoked were acct-a's). */
const ROUTES: { url: string; expect: Record<Who, number> }[] = [
  { url: '/v1/accounts/acct-a/usage', expect: { ...NOBODY, own: 200, other: 404, finance: 403, publisher: 403, admin: 200 } },
  {
    url: '/v1/accounts/acct-a/usage?period=2026-10',
    expect: { ...NOBODY, own: 200, other: 404, finance: 403, publisher: 403, admin: 200 },
  },
  { url: '/v1/accounts/acct-a/invoices', expect: { ...NOBODY, own: 200, other: 404, finance: 403, publisher: 403, admin: 200 } },
  {
    url: `/v1/invoices/${invoiceId('acct-a', '2026-10')}`,
    expect: { ...NOBODY, own: 200, other: 404, finance: 403, publisher: 403, admin: 200 },
  },
  { url: '/v1/invoices/in_does_not_exist', expect: { ...NOBODY, own: 404, other: 404, finance: 403, publisher: 403, admin: 404 } },
  { url: '/v1/holds?period=2026-10', expect: { ...NOBODY, own: 200, other: 200, finance: 200, publisher: 403, admin: 200 } },
  { url: '/v1/exports/invoices.csv?period=2026-10', expect: { ...NOBODY, own: 403, other: 403, finance: 200, publisher: 403, admin: 200 } },
  { url: '/v1/exports/lines.csv?period=2026-10', expect: { ...NOBODY, own: 403, other: 403, finance: 200, publisher: 403, admin: 200 } },
  { url: '/v1/exports/credits.csv?period=2026-10', expect: { ...NOBODY, own: 403, other: 403, finance: 200, publisher: 403, admin: 200 } },
  { url: '/v1/accounts/acct-a/balance', expect: { ...NOBODY, own: 200, other: 404, finance: 403, publisher: 403, admin: 200 } },
];

describe('access to every invoicing route', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  const tokens: Partial<Record<Who, string>> = { bogus: 'vt_acct_not-a-real-token', admin: ADMIN };

  before(async () => {
    db = await billingDatabase();
    await seedOwners(db.pool, [
      { app: 'app-a', account: 'acct-a', from: '2026-09-01T00:00:00Z' },
      { app: 'app-b', account: 'acct-b', from: '2026-09-01T00:00:00Z' },
      { app: 'app-held', account: 'acct-b', from: '2026-10-10T00:00:00Z' },
    ]);
    const dyno = (app: string) => ({
      app,
      kind: 'dyno' as const,
      key: 'web.1',
      product: 'dyno:basic',
      from: '2026-10-01T00:00:00Z',
      to: '2026-10-20T00:00:00Z',
    });
    await seedUsage(db.pool, [dyno('app-a'), dyno('app-b'), dyno('app-held')]);
    const prices = loadPriceBook();
    const billing = createBilling({
      pool: db.pool,
      prices,
      graceHours: 72,
      now: () => DateTime.fromISO('2026-11-10T00:00:00Z', { zone: 'utc' }),
    });
    await billing.finalize('2026-10');
    tokens.own = await createToken(db.pool, { kind: 'account', accountId: 'acct-a' });
    tokens.other = await createToken(db.pool, { kind: 'account', accountId: 'acct-b' });
    tokens.finance = await createToken(db.pool, { kind: 'finance' });
    tokens.publisher = await createToken(db.pool, { kind: 'publisher' });
    tokens.expired = await createToken(db.pool, { kind: 'account', accountId: 'acct-a' });
    await db.pool.query(`update invoicing.tokens set expires_at = now() - interval '1 second' where hash = $1`, [
      tokenHash(tokens.expired),
    ]);
    const revoked = await issueToken(db.pool, { kind: 'account', accountId: 'acct-a' });
    tokens.revoked = revoked.token;
    await revokeToken(db.pool, revoked.id);
    http = createHttpApp(memoryLogger());
    invoicingRoutes(http, { pool: db.pool, billing, prices, adminToken: ADMIN, log: memoryLogger() });
    await http.ready();
  });
  after(async () => {
    await http.close();
    await db.drop();
  });

  for (const [i, route] of ROUTES.entries()) {
    test(`GET ${route.url}: ${WHO.map((w) => `${w} ${route.expect[w]}`).join(', ')}`, async () => {
      for (const who of WHO) {
        const token = tokens[who];
        // An address per route: the failures here stay under the limit of failed authentications.
        const res = await http.inject({
          method: 'GET',
          url: route.url,
          headers: token ? { authorization: `Bearer ${token}` } : {},
          remoteAddress: `10.0.${i}.1`,
        });
        assert.equal(res.statusCode, route.expect[who], `${who}: ${res.body.slice(0, 200)}`);
        if (res.statusCode === 401) assert.equal(res.headers['www-authenticate'], 'Bearer');
      }
    });
  }

  test('a value that cannot be a token (junk, oversized, a wrong prefix or length) is refused without a query; a token-shaped one is looked up', async () => {
    let queries = 0;
    const counting = {
      query: (...args: Parameters<typeof db.pool.query>) => {
        queries++;
        return db.pool.query(...args);
      },
    } as unknown as typeof db.pool;
    for (const junk of ['vt_acct_not-a-real-token', 'a'.repeat(8000), `vt_adm_${'A'.repeat(32)}`, `vt_acct_${'A'.repeat(33)}`, ADMIN]) {
      assert.equal(await lookupToken(counting, junk), undefined);
    }
    assert.equal(queries, 0);
    assert.equal(await lookupToken(counting, `vt_fin_${'A'.repeat(32)}`), undefined);
    assert.equal(queries, 1);
    assert.equal((await lookupToken(counting, tokens.finance!))?.kind, 'finance');
  });

  test("another account's invoice is indistinguishable from one that does not exist", async () => {
    const auth = { authorization: `Bearer ${tokens.other}` };
    const theirs = await http.inject({ method: 'GET', url: `/v1/invoices/${invoiceId('acct-a', '2026-10')}`, headers: auth });
    const nobody = await http.inject({ method: 'GET', url: '/v1/invoices/in_does_not_exist', headers: auth });
    assert.deepEqual([theirs.statusCode, theirs.json()], [nobody.statusCode, nobody.json()]);
  });

  test("an account's token sees only its own holds; finance sees every held account", async () => {
    const held = async (who: Who) =>
      (await http.inject({ method: 'GET', url: '/v1/holds?period=2026-10', headers: { authorization: `Bearer ${tokens[who]}` } }))
        .json()
        .held.map((h: { account_id: string }) => h.account_id);
    assert.deepEqual(await held('finance'), ['acct-b']);
    assert.deepEqual(await held('other'), ['acct-b']);
    assert.deepEqual(await held('own'), []);
  });

  test('a bad period is a 400 that names the field', async () => {
    const res = await http.inject({ method: 'GET', url: '/v1/holds?period=2026-13', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /period: must be a month as YYYY-MM/);
    assert.deepEqual(
      res.json().fields.map((f: { field: string }) => f.field),
      ['period'],
    );
  });

  test('a token stops working at once when revoked, and when it expires', async () => {
    const get = (token: string) =>
      http.inject({
        method: 'GET',
        url: '/v1/accounts/acct-a/invoices',
        headers: { authorization: `Bearer ${token}` },
        remoteAddress: '10.1.0.1',
      });
    const revoked = await issueToken(db.pool, { kind: 'account', accountId: 'acct-a' });
    assert.equal((await get(revoked.token)).statusCode, 200);
    assert.equal((await revokeToken(db.pool, revoked.id)).outcome, 'revoked');
    assert.equal((await get(revoked.token)).statusCode, 401, 'the very next request');
    assert.equal((await revokeToken(db.pool, revoked.id)).outcome, 'already');
    assert.equal((await revokeToken(db.pool, 'tok_0000000000000000')).outcome, 'unknown');

    const expiring = await issueToken(db.pool, { kind: 'finance' }, { expiresInSeconds: 1 });
    assert.ok(expiring.expiresAt && expiring.expiresAt.getTime() > Date.now());
    assert.equal((await get(expiring.token)).statusCode, 403, 'live: a finance token, refused an account route');
    assert.deepEqual(await lookupToken(db.pool, expiring.token), { kind: 'finance', tokenId: expiring.id });
    await new Promise((r) => setTimeout(r, Math.max(0, expiring.expiresAt!.getTime() - Date.now()) + 50));
    assert.equal((await get(expiring.token)).statusCode, 401, 'expired');
    assert.equal(await lookupToken(db.pool, expiring.token), undefined);
  });
});
