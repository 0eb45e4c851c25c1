// The shared web pieces: escaping, the page document, cookies, cookie
// sessions by table and over HTTP, CSRF tokens, the CSP writer.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import {
  clearedCookieHeader,
  contentSecurityPolicy,
  cookieName,
  csrfProblem,
  cookieSessions,
  csrfToken,
  csrfValid,
  errorStatus,
  escapeHtml,
  html,
  pageDocument,
  pageHeaders,
  parseCookies,
  sendPage,
  sessionCookie,
  sessionCookieHeader,
  STRICT_TRANSPORT_SECURITY,
  strictTransportSecurity,
  trusted,
  type CookieReply,
  type SessionGrant,
} from '../src/index.ts';

describe('the html tag', () => {
  test('escapes every interpolated value, keeps markup it made, joins arrays, drops null/undefined/false', () => {
    const evil = `<img src=x onerror="alert('x')">&`;
    assert.equal(html`<p title="${evil}">${evil}</p>`.toString(), `<p title="${escapeHtml(evil)}">${escapeHtml(evil)}</p>`);
    assert.equal(html`<ul>${['a', '<b>'].map((x) => html`<li>${x}</li>`)}</ul>`.toString(), '<ul><li>a</li><li>&lt;b&gt;</li></ul>');
    assert.equal(html`${null}${undefined}${false}${0}`.toString(), '0');
    assert.equal(html`<style>${trusted('a>b{font:"x"}')}</style>`.toString(), '<style>a>b{font:"x"}</style>');
  });
});

describe('the page document', () => {
  test('no-referrer meta, the titled head with the app’s extras, the brand bar with its header, the body in main', () => {
    const doc = pageDocument({
      title: 'A & B',
      head: html`<link rel="stylesheet" href="/x.css">`,
      header: html`<nav></nav>`,
      body: html`<p>hi</p>`,
    }).toString();
    assert.match(doc, /^<!doctype html>\n<html lang="en">\n<head>\n/);
    assert.match(
      doc,
      /<meta name="referrer" content="no-referrer">\n<title>A &amp; B · The Vault<\/title>\n<link rel="stylesheet" href="\/x.css">\n<\/head>/,
    );
    assert.match(
      doc,
      /<header><div class="wrap"><a class="brand" href="\/">The Vault<\/a><nav><\/nav><\/div><\/header>\n<main id="main"><div class="wrap">\n<p>hi<\/p>\n<\/div><\/main>/,
    );
  });

  test('sendPage answers HTML with the status; errorStatus keeps an error’s own 4xx/5xx and makes anything else 500', () => {
    const sent: unknown[] = [];
    const reply = {
      code: (status: number) => (sent.push(status), reply),
      type: (type: string) => (sent.push(type), reply),
      send: (body: string) => (sent.push(body), 'sent'),
    };
    assert.equal(sendPage(reply, 404, html`<p>${'<x>'}</p>`), 'sent');
    assert.deepEqual(sent, [404, 'text/html; charset=utf-8', '<p>&lt;x&gt;</p>']);
    assert.deepEqual(
      [{ statusCode: 400 }, { statusCode: 503 }, { statusCode: 302 }, { statusCode: 600 }, {}].map(errorStatus),
      [400, 503, 500, 500, 500],
    );
  });
});

describe('cookies', () => {
  test('parses a Cookie header: first of a name wins, quotes dropped, junk ignored', () => {
    const c = parseCookies('a=1; b="two"; a=3; junk; =x; c=');
    assert.deepEqual(
      [...c],
      [
        ['a', '1'],
        ['b', 'two'],
        ['c', ''],
      ],
    );
    assert.equal(parseCookies(undefined).size, 0);
  });

  test('session cookies are HttpOnly, SameSite=Lax, Path=/, with Max-Age; Secure only over TLS; clearing sets Max-Age=0', () => {
    assert.equal(
      sessionCookieHeader('s', 'abc', { maxAgeSeconds: 3600, secure: false }),
      's=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600',
    );
    assert.equal(
      sessionCookieHeader('s', 'abc', { maxAgeSeconds: 60, secure: true }),
      's=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure',
    );
    assert.equal(clearedCookieHeader('s', false), 's=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
    assert.throws(() => sessionCookieHeader('s', 'a;b', { maxAgeSeconds: 1, secure: false }), /plain ASCII/);
    assert.throws(() => sessionCookieHeader('s s', 'a', { maxAgeSeconds: 1, secure: false }), /not a cookie name/);
  });

  test('over TLS a cookie is named __Host-…, which must be Secure (Path=/, no Domain)', () => {
    assert.equal(cookieName('s', true), '__Host-s');
    assert.equal(cookieName('s', false), 's');
    assert.equal(
      sessionCookieHeader('__Host-s', 'abc', { maxAgeSeconds: 60, secure: true }),
      '__Host-s=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure',
    );
    assert.throws(() => sessionCookieHeader('__Host-s', 'abc', { maxAgeSeconds: 60, secure: false }), /must be Secure/);
  });
});

describe('CSRF tokens', () => {
  const id = 'A'.repeat(43);
  test('the token is derived from the session id, stable, and only the session’s own token is valid', () => {
    const token = csrfToken(id);
    assert.equal(token, csrfToken(id));
    assert.notEqual(token, csrfToken('B'.repeat(43)));
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(csrfValid(id, token), true);
    for (const bad of [undefined, '', token.slice(1), token + 'x', csrfToken('B'.repeat(43))])
      assert.equal(csrfValid(id, bad), false, String(bad));
    assert.equal(csrfValid(undefined, token), false);
    assert.equal(csrfValid('not-a-session-id', csrfToken('not-a-session-id')), false);
  });

  test('csrfProblem: safe methods pass; any other needs the header or the _csrf field that `valid` accepts', () => {
    const token = csrfToken(id);
    const valid = (given: string | undefined) => csrfValid(id, given);
    for (const method of ['GET', 'HEAD', 'OPTIONS']) assert.equal(csrfProblem({ method, headers: {} }, valid), undefined);
    assert.equal(csrfProblem({ method: 'POST', headers: {} }, valid), 'missing');
    assert.equal(csrfProblem({ method: 'POST', headers: {}, body: {} }, valid), 'missing');
    assert.equal(csrfProblem({ method: 'POST', headers: {}, body: 'raw text' }, valid), 'missing');
    assert.equal(csrfProblem({ method: 'POST', headers: {}, body: { _csrf: 'x' } }, valid), 'wrong');
    assert.equal(csrfProblem({ method: 'DELETE', headers: { 'x-csrf-token': 'x' } }, valid), 'wrong');
    assert.equal(csrfProblem({ method: 'POST', headers: {}, body: { _csrf: token } }, valid), undefined);
    assert.equal(csrfProblem({ method: 'POST', headers: { 'x-csrf-token': token } }, valid), undefined);
  });
});

describe('the CSP writer and page headers', () => {
  test('writes directives in order, an empty list as none, de-duplicates, and refuses a source that could add a directive', () => {
    assert.equal(
      contentSecurityPolicy({ 'default-src': [], 'script-src': ["'self'", 'http://localhost:3003', "'self'"] }),
      "default-src 'none'; script-src 'self' http://localhost:3003",
    );
    assert.throws(() => contentSecurityPolicy({ 'script-src': ["'self'; script-src *"] }), /not a CSP source/);
    assert.throws(() => contentSecurityPolicy({ 'script src': [] }), /not a CSP directive/);
    assert.deepEqual(Object.keys(pageHeaders('x')), [
      'content-security-policy',
      'cache-control',
      'x-content-type-options',
      'x-frame-options',
      'referrer-policy',
    ]);
  });

  test('Strict-Transport-Security only on answers that went out over https', () => {
    const headers: string[] = [];
    const reply = { header: (name: string, value: string) => headers.push(`${name}: ${value}`) };
    strictTransportSecurity({ protocol: 'http' }, reply);
    assert.deepEqual(headers, []);
    strictTransportSecurity({ protocol: 'https' }, reply);
    assert.deepEqual(headers, [`strict-transport-security: ${STRICT_TRANSPORT_SECURITY}`]);
    assert.match(STRICT_TRANSPORT_SECURITY, /^max-age=\d{8}$/);
  });
});

describe('cookie sessions by table', () => {
  let db: TestDatabase;
  const sessions = cookieSessions({ table: 'app.sessions', hours: 12, liveTokens: 'app.live_tokens', liveLinks: 'app.live_links' });
  /** A grant of a live token and link of the account (as a consumed sign-in link gives). */
  const grant = async (accountId: string, tokenId = `tok_${accountId}`, linkHash = 'f'.repeat(64)): Promise<SessionGrant> => {
    await db.pool.query('insert into app.live_tokens (id, account_id) values ($1, $2) on conflict do nothing', [tokenId, accountId]);
    await db.pool.query('insert into app.live_links (hash) values ($1) on conflict do nothing', [linkHash]);
    return { accountId, tokenId, linkHash };
  };
  const open = async (g: SessionGrant) => (await sessions.open(db.pool, g)).id;
  before(async () => {
    db = await freshDatabase('web');
    await db.pool.query(`create schema app;
      create table app.sessions (hash text primary key, account_id text not null,
        token_id text not null, link_hash text not null,
        created_at timestamptz not null default now(), expires_at timestamptz not null);
      create table app.live_tokens (id text primary key, account_id text not null);
      create table app.live_links (hash text primary key)`);
  });
  after(async () => {
    await db?.drop();
  });

  test('open gives a 43-character id and stores only its sha256 with its token and link; account finds it; close ends it', async () => {
    const id = await open(await grant('acct-1'));
    assert.match(id, /^[A-Za-z0-9_-]{43}$/);
    const { rows } = await db.pool.query('select hash, token_id, link_hash from app.sessions');
    assert.deepEqual(rows, [{ hash: createHash('sha256').update(id).digest('hex'), token_id: 'tok_acct-1', link_hash: 'f'.repeat(64) }]);
    assert.equal(await sessions.account(db.pool, id), 'acct-1');
    await sessions.close(db.pool, id);
    assert.equal(await sessions.account(db.pool, id), undefined);
  });

  test('malformed and expired ids sign nobody in; expired rows are cleared at the next sign-in', async () => {
    for (const bad of [undefined, '', 'short', 'A'.repeat(44), `${'A'.repeat(42)}=`])
      assert.equal(await sessions.account(db.pool, bad), undefined);
    const id = await open(await grant('acct-2'));
    await db.pool.query(`update app.sessions set expires_at = now() - interval '1 second'`);
    assert.equal(await sessions.account(db.pool, id), undefined);
    await open(await grant('acct-3'));
    const { rows } = await db.pool.query('select account_id from app.sessions');
    assert.deepEqual(rows, [{ account_id: 'acct-3' }]);
  });

  test('a session lives only while its token is live: a token leaving the view, or another account’s, signs nobody in at once', async () => {
    const id = await open(await grant('acct-5', 'tok_five'));
    assert.equal(await sessions.account(db.pool, id), 'acct-5');
    await db.pool.query(`update app.live_tokens set account_id = 'acct-other' where id = 'tok_five'`);
    assert.equal(await sessions.account(db.pool, id), undefined, "the token is another account's");
    await db.pool.query(`delete from app.live_tokens where id = 'tok_five'`);
    assert.equal(await sessions.account(db.pool, id), undefined, 'the token is revoked or expired');
    await grant('acct-5', 'tok_five');
    assert.equal(await sessions.account(db.pool, id), 'acct-5', 'the same row again: the check is made on every lookup');
  });

  test('a session lives only while its link is live: the link leaving the view (a hand-over whose session ended) signs nobody in at once', async () => {
    const id = await open(await grant('acct-7', 'tok_seven', 'a'.repeat(64)));
    assert.equal(await sessions.account(db.pool, id), 'acct-7');
    await db.pool.query(`delete from app.live_links where hash = $1`, ['a'.repeat(64)]);
    assert.equal(await sessions.account(db.pool, id), undefined, 'deny by default: no live link, no session');
    await grant('acct-7', 'tok_seven', 'a'.repeat(64));
    assert.equal(await sessions.account(db.pool, id), 'acct-7', 'checked on every lookup');
  });

  test('a grant with endsBy (a hand-over) opens a session ending then, not 12 h on, and its cookie lasts as long', async () => {
    const endsBy = new Date(Date.now() + 3600_000);
    const opened = await sessions.open(db.pool, { ...(await grant('acct-8')), endsBy });
    const { rows } = await db.pool.query<{ expires_at: Date }>('select expires_at from app.sessions where hash = $1', [
      createHash('sha256').update(opened.id).digest('hex'),
    ]);
    assert.equal(rows[0]!.expires_at.getTime(), endsBy.getTime());
    assert.ok(opened.seconds > 3590 && opened.seconds <= 3600, String(opened.seconds));
    const later = await sessions.open(db.pool, { ...(await grant('acct-8')), endsBy: new Date(Date.now() + 48 * 3600_000) });
    assert.equal(later.seconds, 12 * 3600, 'never longer than hours');
    const headers: string[] = [];
    const reply: CookieReply = { header: (name, value) => headers.push(`${name}: ${value}`), redirect: () => undefined };
    await sessionCookie({ name: 'sid', sessions, pool: db.pool }).signIn({ headers: {}, protocol: 'http' }, reply, {
      ...(await grant('acct-8')),
      endsBy: new Date(Date.now() + 600_000),
    });
    const maxAge = Number(/Max-Age=(\d+)$/.exec(headers.join())?.[1]);
    assert.ok(maxAge > 590 && maxAge <= 600, headers.join());
  });

  test('over HTTP: sign-in sets a fresh cookie and closes the old session, the guard redirects and forgets a dead cookie, sign-out clears it', async () => {
    const cookie = sessionCookie({ name: 'sid', sessions, pool: db.pool });
    const answer = () => {
      const out = { headers: [] as string[], redirect: undefined as string | undefined };
      const reply: CookieReply = {
        header: (name, value) => out.headers.push(`${name}: ${value}`),
        redirect: (url, code) => (out.redirect = `${code} ${url}`),
      };
      return { out, reply };
    };
    const request = (id?: string, protocol = 'http') => ({
      headers: { cookie: id === undefined ? undefined : `other=1; ${protocol === 'https' ? '__Host-' : ''}sid=${id}` },
      protocol,
    });

    const planted = await open(await grant('acct-planted'));
    const first = answer();
    await cookie.signIn(request(planted), first.reply, await grant('acct-4'));
    const id = /^set-cookie: sid=([A-Za-z0-9_-]{43}); Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200$/.exec(first.out.headers.join())?.[1];
    assert.ok(id, first.out.headers.join());
    assert.notEqual(id, planted);
    assert.equal(await sessions.account(db.pool, planted), undefined, 'the planted session is closed');
    assert.equal(cookie.idOf(request(id)), id);
    assert.deepEqual(await cookie.current(request(id)), { accountId: 'acct-4', sessionId: id });

    const live = answer();
    assert.deepEqual(await cookie.required(request(id), live.reply), { accountId: 'acct-4', sessionId: id });
    assert.deepEqual(live.out, { headers: [], redirect: undefined });
    const none = answer();
    assert.equal(await cookie.required(request(), none.reply), undefined);
    assert.deepEqual(none.out, { headers: [], redirect: '303 /' });
    const dead = answer();
    assert.equal(await cookie.required(request('B'.repeat(43)), dead.reply), undefined);
    assert.deepEqual(dead.out, { headers: ['set-cookie: sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0'], redirect: '303 /' });

    const out = answer();
    await cookie.signOut(request(id), out.reply);
    assert.deepEqual(out.out.headers, ['set-cookie: sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0']);
    assert.equal(await cookie.current(request(id)), undefined);
  });

  test('over https the cookie is __Host-sid; Secure, and only that name is read (a plain `sid` planted over http is ignored)', async () => {
    const cookie = sessionCookie({ name: 'sid', sessions, pool: db.pool });
    const headers: string[] = [];
    const reply: CookieReply = { header: (name, value) => headers.push(`${name}: ${value}`), redirect: () => undefined };
    await cookie.signIn({ headers: {}, protocol: 'https' }, reply, await grant('acct-tls'));
    const id = /^set-cookie: __Host-sid=([A-Za-z0-9_-]{43}); Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/.exec(
      headers.join(),
    )?.[1];
    assert.ok(id, headers.join());
    assert.equal(cookie.idOf({ headers: { cookie: `__Host-sid=${id}` }, protocol: 'https' }), id);
    assert.equal(cookie.idOf({ headers: { cookie: `sid=${id}` }, protocol: 'https' }), undefined);
    assert.equal(cookie.idOf({ headers: { cookie: `__Host-sid=${id}` }, protocol: 'http' }), undefined);
    headers.length = 0;
    await cookie.signOut({ headers: { cookie: `__Host-sid=${id}` }, protocol: 'https' }, reply);
    assert.deepEqual(headers, ['set-cookie: __Host-sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure']);
  });

  test("the sign-in form's CSRF token is bound to this browser's sid_signin cookie (15 minutes), kept across pages, cleared at sign-in", async () => {
    const cookie = sessionCookie({ name: 'sid', sessions, pool: db.pool });
    const headers: string[] = [];
    const reply: CookieReply = { header: (name, value) => headers.push(`${name}: ${value}`), redirect: () => undefined };
    const token = cookie.signInCsrf({ headers: {}, protocol: 'http' }, reply);
    const nonce = /^set-cookie: sid_signin=([A-Za-z0-9_-]{43}); Path=\/; HttpOnly; SameSite=Lax; Max-Age=900$/.exec(headers.join())?.[1];
    assert.ok(nonce, headers.join());
    assert.notEqual(token, nonce);
    const browser = { headers: { cookie: `sid_signin=${nonce}` }, protocol: 'http' };
    assert.equal(cookie.signInCsrfValid(browser, token), true);
    assert.equal(cookie.signInCsrf(browser, reply), token, 'a second link opened in this browser keeps the first form working');
    for (const bad of [undefined, '', 'x'.repeat(43), csrfToken('C'.repeat(43))]) assert.equal(cookie.signInCsrfValid(browser, bad), false);
    assert.equal(cookie.signInCsrfValid({ headers: {}, protocol: 'http' }, token), false, 'another browser (no cookie)');
    assert.equal(cookie.signInCsrfValid({ headers: { cookie: `sid_signin=${'D'.repeat(43)}` }, protocol: 'http' }, token), false);
    assert.equal(cookie.signInCsrfValid({ headers: { cookie: `sid=${nonce}` }, protocol: 'http' }, token), false, 'not the session cookie');
    headers.length = 0;
    await cookie.signIn(browser, reply, await grant('acct-6'));
    assert.equal(headers.length, 2);
    assert.equal(headers[1], 'set-cookie: sid_signin=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
  });

  test('the table and view names must be plain schema-qualified names', () => {
    assert.throws(
      () => cookieSessions({ table: 'sessions; drop table x', hours: 1, liveTokens: 'a.b', liveLinks: 'a.c' }),
      /schema-qualified/,
    );
    assert.throws(() => cookieSessions({ table: 'sessions', hours: 1, liveTokens: 'a.b', liveLinks: 'a.c' }), /schema-qualified/);
    assert.throws(() => cookieSessions({ table: 'a.sessions', hours: 1, liveTokens: 'tokens', liveLinks: 'a.c' }), /schema-qualified/);
    assert.throws(() => cookieSessions({ table: 'a.sessions', hours: 1, liveTokens: 'a.b', liveLinks: 'links x' }), /schema-qualified/);
  });
});
