// cc-forms' card page and its protections, in process over a real database:
// the labelled form, the CSP and other page headers, CSRF on every
// state-changing request.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { accountToken, GATEWAY_ORIGIN, SESSION_COOKIE, signIn, world, type World } from './world.ts';

const CSP =
  `default-src 'none'; script-src 'self' ${GATEWAY_ORIGIN}; frame-src 'self' ${GATEWAY_ORIGIN}; ` +
  `connect-src 'self' ${GATEWAY_ORIGIN}; style-src 'self'; img-src 'self' data:; font-src 'self'; ` +
  `form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

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

const get = (url: string, session?: string) =>
  w.http.inject({ method: 'GET', url, headers: session ? { cookie: `${SESSION_COOKIE}=${session}` } : {} });

describe('the card page', () => {
  test('shows no card yet, the labelled form with the gateway mount point, an empty alert region, and only external scripts', async () => {
    const b = await signIn(w, token);
    const res = await b.get('/card');
    assert.match(res.body, /<h2 id="on-file-title">Card on file<\/h2>/);
    assert.match(res.body, /No card on file yet\./);
    assert.match(res.body, /<div id="card-errors" class="alert" role="alert" tabindex="-1"><\/div>/);
    assert.match(res.body, /<legend>Card details<\/legend>/);
    assert.match(res.body, /<form id="card-form" novalidate data-publishable-key="pk_test_vault_sandbox">/);
    const scripts = [...res.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.deepEqual(
      scripts.map((s) => /src="([^"]+)"/.exec(s[1]!)?.[1]),
      [`${GATEWAY_ORIGIN}/v3/`, '/static/card.js'],
    );
    assert.ok(
      scripts.every((s) => s[2] === ''),
      'no inline script',
    );
    assert.ok(!/<style|\sstyle="|\son[a-z]+="/i.test(res.body), 'no inline style or event handler attribute');
    // Every message the script may show is on the page, once.
    for (const code of [
      'generic_decline',
      'insufficient_funds',
      'incorrect_cvc',
      'expired_card',
      'processing_error',
      'incorrect_number',
      'fallback',
    ]) {
      assert.match(res.body, new RegExp(`<li data-code="${code}">`), code);
    }
  });

  test('every page, redirect and error carries the CSP (self and the gateway only), no-store, nosniff, DENY and no-referrer', async () => {
    const b = await signIn(w, token);
    for (const [url, session, status] of [
      ['/', undefined, 200],
      ['/signin?link=nope', undefined, 401],
      ['/card', b.session, 200],
      ['/card', undefined, 303],
      ['/signout', b.session, 200],
      ['/nowhere', b.session, 404],
      ['/static/card.js', undefined, 200],
    ] as const) {
      const res = await get(url, session);
      assert.equal(res.statusCode, status, url);
      assert.equal(res.headers['content-security-policy'], CSP, url);
      assert.equal(res.headers['cache-control'], 'no-store', url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'DENY', url);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
      assert.doesNotMatch(String(res.headers['content-security-policy']), /unsafe-inline/, url);
    }
  });

  test('the script and stylesheet are served from our origin with their types', async () => {
    const js = await get('/static/card.js');
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match(js.body, /confirmCardSetup/);
    const css = await get('/static/card.css');
    assert.match(String(css.headers['content-type']), /^text\/css/);
  });
});

describe('CSRF on every state-changing request', () => {
  test('POST /card/setup-intents and POST /card without the token, with a wrong one, or with another session’s are 403 and change nothing', async () => {
    const b = await signIn(w, token);
    const other = await signIn(w, await accountToken(w, 'acct-web-2'));
    for (const url of ['/card/setup-intents', '/card']) {
      for (const csrf of [null, 'x'.repeat(43), other.csrf, '']) {
        const res = await b.postJson(url, url === '/card' ? { setup_intent: 'seti_123' } : {}, csrf);
        assert.equal(res.statusCode, 403, `${url} with ${csrf}`);
        assert.match(res.json().error.message, /security token is missing or wrong/);
      }
    }
    const { rowCount } = await w.db.pool.query(`select 1 from cc_forms.card_attempts where account_id = 'acct-web-1'`);
    assert.equal(rowCount, 0, 'no attempt was counted');
    assert.equal(w.gateway.setupIntents.size, 0, 'the gateway was never called');
    assert.deepEqual(w.gateway.customerCalls, [], 'no customer either');
  });

  test('POST /signout without the token is a 403 page and the session lives on; with it, the session ends', async () => {
    const b = await signIn(w, token);
    const post = (body: string) =>
      w.http.inject({
        method: 'POST',
        url: '/signout',
        headers: { cookie: `${SESSION_COOKIE}=${b.session}`, 'content-type': 'application/x-www-form-urlencoded' },
        payload: body,
      });
    const refused = await post('');
    assert.equal(refused.statusCode, 403);
    assert.match(refused.body, /security token/);
    assert.equal((await b.get('/card')).statusCode, 200, 'still signed in');
    const ok = await post(`_csrf=${encodeURIComponent(b.csrf)}`);
    assert.equal(ok.statusCode, 303);
    assert.equal(ok.headers.location, '/');
    assert.match(String(ok.headers['set-cookie']), /Max-Age=0/);
    assert.equal((await b.get('/card')).statusCode, 303, 'signed out');
  });

  test('the token is the same on every page of a session, differs between sessions, and is neither the id nor its stored hash', async () => {
    const a = await signIn(w, token);
    const again = await a.get('/signout');
    assert.match(again.body, new RegExp(`value="${a.csrf}"`));
    const b = await signIn(w, token);
    assert.notEqual(a.csrf, b.csrf);
    assert.notEqual(a.csrf, a.session);
    assert.ok(!a.csrf.includes(createHash('sha256').update(a.session).digest('hex')));
  });

  test('a POST without a session cookie is 403 too', async () => {
    const res = await w.http.inject({
      method: 'POST',
      url: '/card/setup-intents',
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    assert.equal(res.statusCode, 403);
  });

  test('a POST to an address that is no route is its 404 (page or JSON), not a form refused, and warns nothing', async () => {
    const { session } = await signIn(w, token);
    const before = w.log.lines.length;
    for (const cookie of [{}, { cookie: `${SESSION_COOKIE}=${session}` }]) {
      const form = await w.http.inject({
        method: 'POST',
        url: '/nope',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...cookie },
        payload: 'a=1',
      });
      assert.equal(form.statusCode, 404);
      assert.match(form.headers['content-type'] as string, /text\/html/);
      const json = await w.http.inject({
        method: 'POST',
        url: '/card/nope',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...cookie },
        payload: '{}',
      });
      assert.equal(json.statusCode, 404);
      assert.equal(json.json().error.code, 'not_found');
    }
    assert.doesNotMatch(w.log.lines.slice(before).join('\n'), /web\.csrf_refused/);
  });
});
