// cc-forms behind a proxy that ends TLS, in process over a real database: only
// a trusted proxy's X-Forwarded-Proto makes cookies __Host- and Secure.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHttpApp } from '@vault/runtime';
import { ccFormsRoutes } from '../src/app.ts';
import {
  accountToken,
  cookiesSet,
  GATEWAY_JS,
  GATEWAY_ORIGIN,
  INVOICING_WEB_URL,
  PUBLISHABLE_KEY,
  signInForm,
  signInLink,
  world,
  type World,
} from './world.ts';

let w: World;
/** acct-web-1's API token (its public id): links are issued with it. */
let token: string;
before(async () => {
  w = await world();
  token = await accountToken(w, 'acct-web-1');
});
after(async () => {
  await w?.close();
});

describe('behind a proxy that ends TLS', () => {
  const viaProxy = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };
  async function app(trustProxy: boolean) {
    const http = createHttpApp(w.log, { trustProxy });
    ccFormsRoutes(http, {
      pool: w.db.pool,
      gateway: w.gateway,
      log: w.log,
      attemptsPerHour: 10,
      lookupsPerMinute: 60,
      publishableKey: PUBLISHABLE_KEY,
      gatewayJs: GATEWAY_JS,
      gatewayOrigins: [GATEWAY_ORIGIN],
      invoicingWebUrl: INVOICING_WEB_URL,
    });
    await http.ready();
    return http;
  }
  async function signInVia(http: Awaited<ReturnType<typeof app>>) {
    const link = await signInLink(w, token);
    const opened = await http.inject({ method: 'GET', url: `/signin?link=${encodeURIComponent(link)}`, headers: viaProxy });
    return http.inject({
      method: 'POST',
      url: '/signin',
      headers: { ...viaProxy, cookie: cookiesSet(opened).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ link, _csrf: signInForm(opened.body).csrf }).toString(),
    });
  }

  test('trusted (TRUST_PROXY): the cookie is __Host-vault_card_session; Secure and answers carry Strict-Transport-Security', async () => {
    const http = await app(true);
    try {
      const res = await signInVia(http);
      assert.equal(res.statusCode, 303);
      const cookie = [res.headers['set-cookie']].flat().map(String)[0]!;
      assert.match(cookie, /^__Host-vault_card_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/);
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
      const id = /=([\w-]{43})/.exec(cookie)![1]!;
      const page = await http.inject({ method: 'GET', url: '/card', headers: { ...viaProxy, cookie: `__Host-vault_card_session=${id}` } });
      assert.equal(page.statusCode, 200);
      assert.equal(page.headers['strict-transport-security'], 'max-age=31536000');
    } finally {
      await http.close();
    }
  });

  test('not trusted (TRUST_PROXY unset): X-Forwarded-Proto: https changes nothing', async () => {
    const http = await app(false);
    try {
      const res = await signInVia(http);
      assert.equal(res.statusCode, 303);
      assert.match(String(res.headers['set-cookie']), /^vault_card_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200,/);
      assert.doesNotMatch(String(res.headers['set-cookie']), /Secure|__Host-/);
      assert.equal(res.headers['strict-transport-security'], undefined);
    } finally {
      await http.close();
    }
  });
});
