// Sign-in links on the invoice pages, through http.inject over a real database:
// a confirmation page, then a POST; once, 15 minutes, tied to its token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { linkHash } from '@vault/web';
import { createSignInLink } from '../src/access/sign-in-links.ts';
import { issueToken } from '../src/access/tokens.ts';
import { ACCOUNT_A, ACCOUNT_B, cookiesSet, sessionFrom, signInForm, webClient, webWorld, type WebWorld } from './web-fixture.ts';

const ASK_FOR_A_NEW_LINK = /Please ask your account's administrator for a new sign-in link\./;

let _world: WebWorld;

let world: WebWorld;
before(async () => {
  world = await webWorld();
});
after(async () => {
  await world?.close();
});
const { get, openLink, postSignIn, confirm, signIn } = webClient(() => world);

describe('sign-in links', () => {
  test('opening a link signs nothing in: the page names the account and posts its form to /signin; confirming gives a session and 303 to /invoices', async () => {
    const link = await world.link(ACCOUNT_B);
    const opened = await openLink(link);
    assert.equal(opened.statusCode, 200);
    assert.match(opened.body, /<h1>Sign in as acct-web-b\?<\/h1>/);
    assert.match(opened.body, /<form method="post" action="\/signin">/);
    assert.equal(sessionFrom(opened.headers['set-cookie']), undefined, 'no session from a GET');
    assert.match(
      String(opened.headers['set-cookie']),
      /^vault_session_signin=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=900$/,
    );
    const res = await postSignIn({ ...signInForm(opened.body) }, cookiesSet(opened));
    assert.equal(res.statusCode, 403, 'the form field is _csrf, not csrf: a form without it is refused');
    const { csrf } = signInForm(opened.body);
    const ok = await postSignIn({ link, _csrf: csrf }, cookiesSet(opened));
    assert.equal(ok.statusCode, 303);
    assert.equal(ok.headers.location, '/invoices');
    assert.match(String(ok.headers['set-cookie']), /vault_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200/);
    assert.equal((await get('/invoices', sessionFrom(ok.headers['set-cookie']))).statusCode, 200);
  });

  test('a link works once: confirming it again, or opening it again, is refused with a page asking for a new link', async () => {
    const link = await world.link(ACCOUNT_A);
    const opened = await openLink(link);
    const fields = { link, _csrf: signInForm(opened.body).csrf };
    const first = await postSignIn(fields, cookiesSet(opened));
    assert.equal(first.statusCode, 303);
    const second = await postSignIn(fields, cookiesSet(opened));
    assert.equal(second.statusCode, 401);
    assert.equal(second.headers['set-cookie'], undefined, 'no session');
    assert.match(second.body, ASK_FOR_A_NEW_LINK);
    const reopened = await openLink(link);
    assert.equal(reopened.statusCode, 401);
    assert.match(reopened.body, ASK_FOR_A_NEW_LINK);
    const { rows } = await world.db.pool.query(
      'select account_id, token_id, used_at is not null as used from invoicing.sign_in_links where hash = $1',
      [linkHash(link)],
    );
    assert.deepEqual(rows, [{ account_id: ACCOUNT_A, token_id: world.tokenIdA, used: true }]);
    const secret = await world.db.pool.query('select 1 from invoicing.sign_in_links where hash = $1 or account_id = $1', [link]);
    assert.equal(secret.rowCount, 0, 'only the hash is stored');
  });

  test('confirmed twice at the same moment, a link opens exactly one session', async () => {
    const link = await world.link(ACCOUNT_A);
    const opened = await openLink(link);
    const fields = { link, _csrf: signInForm(opened.body).csrf };
    const answers = await Promise.all(Array.from({ length: 8 }, () => postSignIn(fields, cookiesSet(opened))));
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [303, 401, 401, 401, 401, 401, 401, 401]);
    const { rows } = await world.db.pool.query('select count(*)::int as n from invoicing.sessions where link_hash = $1', [linkHash(link)]);
    assert.equal(rows[0].n, 1);
  });

  test('a link is valid for 15 minutes; an expired one (expires_at in the past) is refused, opened or confirmed', async () => {
    const link = await world.link(ACCOUNT_A);
    const { rows } = await world.db.pool.query<{ minutes: number }>(
      'select extract(epoch from expires_at - created_at) / 60 as minutes from invoicing.sign_in_links where hash = $1',
      [linkHash(link)],
    );
    assert.equal(Number(rows[0]!.minutes), 15);
    const opened = await openLink(link);
    assert.equal(opened.statusCode, 200);
    await world.db.pool.query(`update invoicing.sign_in_links set expires_at = now() - interval '1 second' where hash = $1`, [
      linkHash(link),
    ]);
    const late = await postSignIn({ link, _csrf: signInForm(opened.body).csrf }, cookiesSet(opened));
    assert.equal(late.statusCode, 401);
    assert.equal(sessionFrom(late.headers['set-cookie']), undefined);
    assert.match(late.body, ASK_FOR_A_NEW_LINK);
    const reopened = await openLink(link);
    assert.equal(reopened.statusCode, 401);
    assert.match(reopened.body, ASK_FOR_A_NEW_LINK);
    assert.match(world.log.lines.join('\n'), /event=web.signin_refused reason=expired/);
  });

  test('an unknown link, an API token given as a link, and the old ?token= address sign nobody in; the pages speak to the customer', async () => {
    for (const [url, status] of [
      [`/signin?link=vl_${'A'.repeat(43)}`, 401],
      [`/signin?link=${encodeURIComponent(world.tokenA)}`, 401],
      [`/signin?token=${encodeURIComponent(world.tokenA)}`, 400],
      ['/signin', 400],
    ] as const) {
      const res = await get(url);
      assert.equal(res.statusCode, status, url);
      assert.equal(res.headers['set-cookie'], undefined, url);
      assert.match(res.headers['content-type'] as string, /^text\/html/);
      assert.match(res.body, ASK_FOR_A_NEW_LINK, url);
      assert.doesNotMatch(res.body, /vault |TOKEN|--account/, `${url}: no operator commands`);
    }
    const posted = await postSignIn({ link: world.tokenA });
    assert.equal(posted.statusCode, 403, 'and a POST without the form token is refused before anything');
  });

  test('opening a link while signed in as another account changes nothing; confirming replaces that session with a fresh one', async () => {
    const a = await signIn(ACCOUNT_A);
    const link = await world.link(ACCOUNT_B);
    const opened = await openLink(link, [`vault_session=${a}`]);
    assert.equal(opened.statusCode, 200);
    assert.match(opened.body, /<h1>Sign in as acct-web-b\?<\/h1>/);
    assert.match(opened.body, /You are signed in as <strong>acct-web-a<\/strong> now\. Continuing signs you out of acct-web-a\./);
    assert.equal(sessionFrom(opened.headers['set-cookie']), undefined, 'the session cookie is not touched');
    const still = await get('/invoices', a);
    assert.equal(still.statusCode, 200);
    assert.match(still.body, /<span class="account">acct-web-a<\/span>/);
    const res = await postSignIn({ link, _csrf: signInForm(opened.body).csrf }, [`vault_session=${a}`, ...cookiesSet(opened)]);
    assert.equal(res.statusCode, 303);
    const b = sessionFrom(res.headers['set-cookie']);
    assert.ok(b && b !== a, 'a fresh session id');
    assert.match((await get('/invoices', b)).body, /<span class="account">acct-web-b<\/span>/);
    assert.equal((await get('/invoices', a)).statusCode, 303, 'the old session is closed');
  });

  test("confirming needs this browser's sign-in form token: without it, with a wrong one, or another browser's, it is 403 and the link stays usable", async () => {
    const link = await world.link(ACCOUNT_A);
    const mine = await openLink(link);
    const theirs = await openLink(await world.link(ACCOUNT_B));
    const { csrf } = signInForm(mine.body);
    for (const [fields, cookies] of [
      [{ link }, cookiesSet(mine)],
      [{ link, _csrf: 'x'.repeat(43) }, cookiesSet(mine)],
      [{ link, _csrf: signInForm(theirs.body).csrf }, cookiesSet(mine)],
      [{ link, _csrf: csrf }, []],
      [{ link, _csrf: csrf }, cookiesSet(theirs)],
    ] as const) {
      const res = await postSignIn(fields, cookies);
      assert.equal(res.statusCode, 403, JSON.stringify([fields, cookies]));
      assert.equal(sessionFrom(res.headers['set-cookie']), undefined);
      assert.match(res.body, /security token/);
    }
    assert.equal((await openLink(link)).statusCode, 200, 'the link is still unused');
    assert.equal((await postSignIn({ link, _csrf: csrf }, cookiesSet(mine))).statusCode, 303);
  });

  test('revoking a token (revoked_at) ends every session it opened at once, and its links stop working; other tokens are untouched', async () => {
    const extra = await issueToken(world.db.pool, { kind: 'account', accountId: ACCOUNT_A });
    const viaExtra = await confirm(await createSignInLink(world.db.pool, { accountId: ACCOUNT_A, tokenId: extra.id }));
    const s1 = sessionFrom(viaExtra.headers['set-cookie'])!;
    const unused = await createSignInLink(world.db.pool, { accountId: ACCOUNT_A, tokenId: extra.id });
    const other = await signIn(ACCOUNT_A);
    assert.equal((await get('/invoices', s1)).statusCode, 200);
    await world.db.pool.query('update invoicing.tokens set revoked_at = now() where id = $1', [extra.id]);
    const ended = await get('/invoices', s1);
    assert.equal(ended.statusCode, 303);
    assert.equal(ended.headers.location, '/');
    assert.match(String(ended.headers['set-cookie']), /vault_session=; .*Max-Age=0/);
    assert.equal((await get('/usage', s1)).statusCode, 303);
    assert.equal((await get('/invoices', other)).statusCode, 200, "another token's session lives on");
    const refused = await openLink(unused);
    assert.equal(refused.statusCode, 401);
    assert.match(refused.body, ASK_FOR_A_NEW_LINK);
    assert.match(world.log.lines.join('\n'), /event=web.signin_refused reason=revoked/);
  });

  test('a token that expires (expires_at) ends its sessions at once too', async () => {
    const expiring = await issueToken(world.db.pool, { kind: 'account', accountId: ACCOUNT_B }, { expiresInSeconds: 3600 });
    const res = await confirm(await createSignInLink(world.db.pool, { accountId: ACCOUNT_B, tokenId: expiring.id }));
    const id = sessionFrom(res.headers['set-cookie'])!;
    assert.equal((await get('/invoices', id)).statusCode, 200);
    await world.db.pool.query(`update invoicing.tokens set expires_at = now() - interval '1 second' where id = $1`, [expiring.id]);
    assert.equal((await get('/invoices', id)).statusCode, 303);
  });

  test('sign-in links, tokens, session ids and CSRF tokens never reach the logs', async () => {
    const link = await world.link(ACCOUNT_A);
    const opened = await openLink(link);
    const { csrf } = signInForm(opened.body);
    const res = await postSignIn({ link, _csrf: csrf }, cookiesSet(opened));
    const id = sessionFrom(res.headers['set-cookie'])!;
    const lines = world.log.lines.join('\n');
    for (const secret of [link, linkHash(link), csrf, world.tokenA, world.tokenB, world.financeToken, id])
      assert.ok(!lines.includes(secret));
    assert.match(lines, new RegExp(`event=web.signin account_id=acct-web-a token_id=${world.tokenIdA}`));
  });

  test("a body that is not what the form sends is a page in the customer's words, not the framework's", async () => {
    for (const [type, payload] of [
      ['application/json', '{not json'],
      ['application/xml', '<link>x</link>'],
    ] as const) {
      const res = await world.http.inject({ method: 'POST', url: '/signin', headers: { 'content-type': type }, payload });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${type}: ${res.statusCode}`);
      assert.match(res.body, /This request could not be read: it is not what this page sends\./, type);
      assert.doesNotMatch(res.body, /Body is not valid JSON|Unsupported Media Type|content-type/i, type);
    }
  });
});
