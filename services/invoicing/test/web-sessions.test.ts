// The invoice pages' cookie sessions and page headers, through http.inject over
// a real database: stored hashed, tied to the token, CSRF on sign-out, the CSP.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { linkHash } from '@vault/web';
import { STYLESHEET } from '../src/web/assets.ts';
import { ACCOUNT_A, ACCOUNT_B, sessionFrom, webClient, webWorld, type WebWorld } from './web-fixture.ts';

const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

let _world: WebWorld;

let world: WebWorld;
before(async () => {
  world = await webWorld();
});
after(async () => {
  await world?.close();
});
const { get, confirm, signIn } = webClient(() => world);

describe('web sessions', () => {
  test('only the sha256 of the session id is stored, for 12 hours, with the token and link it came from', async () => {
    const link = await world.link(ACCOUNT_B);
    const res = await confirm(link);
    const id = sessionFrom(res.headers['set-cookie'])!;
    const { rows } = await world.db.pool.query<{ hash: string; account_id: string; hours: number; token_id: string; link_hash: string }>(
      `select hash, account_id, extract(epoch from expires_at - created_at) / 3600 as hours, token_id, link_hash
       from invoicing.sessions where hash = $1`,
      [createHash('sha256').update(id).digest('hex')],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.account_id, ACCOUNT_B);
    assert.equal(Number(rows[0]!.hours), 12);
    assert.equal(rows[0]!.token_id, world.tokenIdB);
    assert.equal(rows[0]!.link_hash, linkHash(link));
    const stored = await world.db.pool.query('select 1 from invoicing.sessions where hash = $1', [id]);
    assert.equal(stored.rowCount, 0, 'the id itself is not stored');
  });

  test('a tampered session cookie is not signed in: redirect to / and the cookie is cleared', async () => {
    const id = await signIn(ACCOUNT_A);
    assert.equal((await get('/invoices', id)).statusCode, 200);
    const flipped = id.slice(0, -1) + (id.endsWith('A') ? 'B' : 'A');
    for (const bad of [flipped, id + 'x', 'garbage', '']) {
      const res = await get('/invoices', bad);
      assert.equal(res.statusCode, 303, bad);
      assert.equal(res.headers.location, '/');
    }
    const res = await get('/invoices', flipped);
    assert.match(String(res.headers['set-cookie']), /vault_session=; .*Max-Age=0/);
  });

  test('an expired session is not signed in', async () => {
    const id = await signIn(ACCOUNT_A);
    await world.db.pool.query(`update invoicing.sessions set expires_at = now() - interval '1 second' where hash = $1`, [
      createHash('sha256').update(id).digest('hex'),
    ]);
    const res = await get('/usage', id);
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/');
  });

  test('a bearer token does not open web pages, and the session cookie does not open the JSON API', async () => {
    const bearer = await world.http.inject({ method: 'GET', url: '/invoices', headers: { authorization: `Bearer ${world.tokenA}` } });
    assert.equal(bearer.statusCode, 303);
    const id = await signIn(ACCOUNT_A);
    const api = await get(`/v1/accounts/${ACCOUNT_A}/invoices`, id);
    assert.equal(api.statusCode, 401);
  });

  test('/ redirects a signed-in customer to /invoices and shows the sign-in help otherwise', async () => {
    const id = await signIn(ACCOUNT_A);
    const signedIn = await get('/', id);
    assert.equal(signedIn.statusCode, 303);
    assert.equal(signedIn.headers.location, '/invoices');
    const signedOut = await get('/');
    assert.equal(signedOut.statusCode, 200);
    assert.match(signedOut.body, /open the sign-in link you were given/);
  });

  test("every web page, redirect and the stylesheet carry the CSP (no 'unsafe-inline'), nosniff, DENY and no-referrer; pages are no-store", async () => {
    const id = await signIn(ACCOUNT_A);
    const [invoice] = await world.billing.invoices(ACCOUNT_A);
    for (const [url, session, status] of [
      ['/', undefined, 200],
      ['/signin?link=nope', undefined, 401],
      [`/signin?link=${encodeURIComponent(await world.link(ACCOUNT_A))}`, id, 200],
      ['/invoices', id, 200],
      [`/invoices/${invoice!.id}`, id, 200],
      ['/invoices/unknown', id, 404],
      ['/usage/', id, 404],
      ['/nope', id, 404],
      ['/nope', undefined, 404],
      ['/usage', id, 200],
      ['/usage?period=2026-13', id, 400],
      ['/signout', id, 200],
      ['/invoices', undefined, 303],
      [STYLESHEET.href, undefined, 200],
    ] as const) {
      const res = await get(url, session);
      assert.equal(res.statusCode, status, url);
      assert.equal(res.headers['content-security-policy'], CSP, url);
      assert.doesNotMatch(String(res.headers['content-security-policy']), /unsafe-inline/, url);
      if (url !== STYLESHEET.href) assert.equal(res.headers['cache-control'], 'no-store', url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'DENY', url);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
      assert.doesNotMatch(res.body, /<style|\sstyle="/, `${url}: no inline style`);
      if (status === 404) {
        // The 404 page, an unknown address's too (not the API's 401), with the signed-in header.
        assert.match(String(res.headers['content-type']), /^text\/html/, url);
        assert.match(res.body, /<h1>Not found<\/h1>/, url);
        assert.equal(/action="\/signout"/.test(res.body), session !== undefined, `${url}: the header's sign-out form`);
      }
    }
  });

  test('an address that is no route is a JSON 404 for an API client, a valid token or none; a bad token is still 401', async () => {
    const inject = (url: string, headers: Record<string, string>) => world.http.inject({ method: 'GET', url, headers });
    for (const headers of [{}, { accept: 'application/json' }, { authorization: `Bearer ${world.tokenA}` }] as Record<string, string>[]) {
      const res = await inject('/v1/nope', headers);
      assert.equal(res.statusCode, 404, JSON.stringify(headers));
      assert.deepEqual(res.json(), { error: 'not found' });
    }
    const bad = await inject('/nope', { authorization: 'Bearer vt_acct_not-a-real-token', accept: 'text/html' });
    assert.equal(bad.statusCode, 401);
    assert.equal(bad.headers['www-authenticate'], 'Bearer');
    const post = await world.http.inject({
      method: 'POST',
      url: '/v1/nope',
      headers: { authorization: `Bearer ${world.tokenA}` },
      payload: {},
    });
    assert.deepEqual([post.statusCode, post.json()], [404, { error: 'not found' }], 'no CSRF refusal for an address that is no form');
  });

  test('the stylesheet is a file of the app under its content hash, text/css, cached for a year', async () => {
    const res = await get(STYLESHEET.href);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/css/);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(STYLESHEET.href, `/assets/app.${createHash('sha256').update(res.body).digest('hex').slice(0, 16)}.css`);
    assert.match(res.body, /header\{background:#3f3a6d/);
    assert.match((await get('/')).body, new RegExp(`<link rel="stylesheet" href="${STYLESHEET.href.replace(/\./g, '\\.')}">`));
    assert.equal((await get('/assets/app.css')).statusCode, 404, 'no other address serves it');
  });

  test('a bad or future ?period is a 400 page naming the problem', async () => {
    const id = await signIn(ACCOUNT_A);
    const bad = await get('/usage?period=2026-13', id);
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /period: must be a month as YYYY-MM/);
    const future = await get('/usage?period=2027-01', id);
    assert.equal(future.statusCode, 400);
    assert.match(future.body, /2027-01 has not started yet/);
  });

  test('POST /signout without the CSRF token, with a wrong one or another session’s is a 403 page and the session lives on; with it, the row is deleted and the cookie cleared', async () => {
    const id = await signIn(ACCOUNT_A);
    const other = await signIn(ACCOUNT_A);
    const hash = createHash('sha256').update(id).digest('hex');
    const csrfOf = async (session: string) => /name="_csrf" value="([^"]+)"/.exec((await get('/signout', session)).body)![1]!;
    const post = (payload: string) =>
      world.http.inject({
        method: 'POST',
        url: '/signout',
        headers: { cookie: `vault_session=${id}`, 'content-type': 'application/x-www-form-urlencoded' },
        payload,
      });
    for (const payload of ['', '_csrf=', `_csrf=${'x'.repeat(43)}`, `_csrf=${encodeURIComponent(await csrfOf(other))}`]) {
      const refused = await post(payload);
      assert.equal(refused.statusCode, 403, payload);
      assert.match(refused.body, /security token/);
      assert.equal(refused.headers['set-cookie'], undefined);
      assert.equal((await get('/invoices', id)).statusCode, 200, 'still signed in');
    }
    assert.match(world.log.lines.join('\n'), /event=web.csrf_refused method=POST path=\/signout token=missing/);
    const res = await post(`_csrf=${encodeURIComponent(await csrfOf(id))}`);
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/');
    assert.match(String(res.headers['set-cookie']), /Max-Age=0/);
    const { rowCount } = await world.db.pool.query('select 1 from invoicing.sessions where hash = $1', [hash]);
    assert.equal(rowCount, 0);
    assert.equal((await get('/invoices', other)).statusCode, 200, 'the other session is not touched');
  });

  test('every page of a session carries its CSRF token in the header sign-out form; another session has another', async () => {
    const a = await signIn(ACCOUNT_A);
    const b = await signIn(ACCOUNT_A);
    const tokenOf = async (url: string, session: string) =>
      /<form method="post" action="\/signout"><input type="hidden" name="_csrf" value="([^"]+)">/.exec((await get(url, session)).body)?.[1];
    const onInvoices = await tokenOf('/invoices', a);
    assert.ok(onInvoices);
    assert.equal(await tokenOf('/usage', a), onInvoices);
    assert.notEqual(await tokenOf('/invoices', b), onInvoices);
    assert.notEqual(onInvoices, a);
  });
});
