// The invoice pages behind a proxy that ends TLS: only a trusted proxy's
// X-Forwarded-Proto makes cookies __Host- and Secure.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { invoicingRoutes } from '../src/app.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { ACCOUNT_A, cookiesSet, signInForm, webWorld, type WebWorld } from './web-fixture.ts';

let _world: WebWorld;

let world: WebWorld;
before(async () => {
  world = await webWorld();
});
after(async () => {
  await world?.close();
});

describe('behind a proxy that ends TLS', () => {
  /** The same app built with TRUST_PROXY's setting (as main.ts passes it to fastify). */
  async function app(trustProxy: boolean | string[]) {
    const http = createHttpApp(memoryLogger({ app: 'invoicing' }), { trustProxy });
    invoicingRoutes(http, {
      pool: world.db.pool,
      billing: world.billing,
      prices: loadPriceBook(),
      adminToken: world.adminToken,
      log: world.log,
    });
    await http.ready();
    return http;
  }
  const viaProxy = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };

  test('trusted (TRUST_PROXY): the session cookie is __Host-vault_session; Secure, only it is read, and answers carry Strict-Transport-Security', async () => {
    const http = await app(true);
    try {
      const link = await world.link(ACCOUNT_A);
      const opened = await http.inject({ method: 'GET', url: `/signin?link=${encodeURIComponent(link)}`, headers: viaProxy });
      assert.equal(opened.headers['strict-transport-security'], 'max-age=31536000');
      assert.match(
        String(opened.headers['set-cookie']),
        /^__Host-vault_session_signin=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=900; Secure$/,
      );
      const res = await http.inject({
        method: 'POST',
        url: '/signin',
        headers: { ...viaProxy, cookie: cookiesSet(opened).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ link, _csrf: signInForm(opened.body).csrf }).toString(),
      });
      assert.equal(res.statusCode, 303);
      const cookies = [res.headers['set-cookie']].flat().map(String);
      const session = cookies.find((c) => c.startsWith('__Host-vault_session='));
      assert.match(session ?? '', /^__Host-vault_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/);
      assert.doesNotMatch(session!, /Domain=/i);
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
      const id = /^__Host-vault_session=([\w-]{43})/.exec(session!)![1]!;
      const page = await http.inject({ method: 'GET', url: '/invoices', headers: { ...viaProxy, cookie: `__Host-vault_session=${id}` } });
      assert.equal(page.statusCode, 200);
      assert.equal(page.headers['strict-transport-security'], 'max-age=31536000');
      const plain = await http.inject({ method: 'GET', url: '/invoices', headers: { ...viaProxy, cookie: `vault_session=${id}` } });
      assert.equal(plain.statusCode, 303, 'over https only the __Host- cookie counts');
      const api = await http.inject({ method: 'GET', url: '/health', headers: viaProxy });
      assert.equal(api.headers['strict-transport-security'], 'max-age=31536000', 'the API too');
      const direct = await http.inject({ method: 'GET', url: '/' });
      assert.equal(direct.headers['strict-transport-security'], undefined, 'plain http without the header');
    } finally {
      await http.close();
    }
  });

  test('trusted by address only: a proxy at another address is not believed', async () => {
    const http = await app(['10.9.8.7']);
    try {
      const res = await http.inject({ method: 'GET', url: '/', headers: viaProxy });
      assert.equal(res.headers['strict-transport-security'], undefined);
    } finally {
      await http.close();
    }
  });

  test('not trusted (TRUST_PROXY unset): X-Forwarded-Proto: https changes nothing', async () => {
    const link = await world.link(ACCOUNT_A);
    const opened = await world.http.inject({ method: 'GET', url: `/signin?link=${encodeURIComponent(link)}`, headers: viaProxy });
    assert.equal(opened.headers['strict-transport-security'], undefined);
    const res = await world.http.inject({
      method: 'POST',
      url: '/signin',
      headers: { ...viaProxy, cookie: cookiesSet(opened).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ link, _csrf: signInForm(opened.body).csrf }).toString(),
    });
    assert.equal(res.statusCode, 303);
    assert.match(String(res.headers['set-cookie']), /^vault_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200,/);
    assert.doesNotMatch(String(res.headers['set-cookie']), /Secure|__Host-/);
    assert.equal(res.headers['strict-transport-security'], undefined);
  });
});
