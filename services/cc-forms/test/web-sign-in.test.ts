// Signing in to the card form, in process over a real database: invoicing's
// sign-in links (a confirmation page, then a POST), the cookie session tied to
// its token, and what reaches the logs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  accountToken,
  confirmLink,
  cookiesSet,
  SESSION_COOKIE,
  sessionFrom,
  signIn,
  signInForm,
  signInLink,
  world,
  type World,
} from './world.ts';

const ASK_FOR_A_NEW_LINK = /Please ask your account's administrator for a new sign-in link\./;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

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
const openLink = (link: string, cookies: readonly string[] = []) =>
  w.http.inject({
    method: 'GET',
    url: `/signin?link=${encodeURIComponent(link)}`,
    headers: cookies.length > 0 ? { cookie: cookies.join('; ') } : {},
  });
const postSignIn = (fields: Record<string, string>, cookies: readonly string[] = []) =>
  w.http.inject({
    method: 'POST',
    url: '/signin',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookies.length > 0 ? { cookie: cookies.join('; ') } : {}) },
    payload: new URLSearchParams(fields).toString(),
  });

describe('signing in to the card form', () => {
  test('opening a sign-in link names the account and signs nothing in; confirming opens an HttpOnly SameSite=Lax session of its own cookie and lands on /card', async () => {
    const link = await signInLink(w, token);
    const opened = await openLink(link);
    assert.equal(opened.statusCode, 200);
    assert.match(opened.body, /<h1>Sign in as acct-web-1\?<\/h1>/);
    assert.equal(sessionFrom(opened), undefined, 'no session from a GET');
    assert.match(
      String(opened.headers['set-cookie']),
      /^vault_card_session_signin=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=900$/,
    );
    const res = await postSignIn({ link, _csrf: signInForm(opened.body).csrf }, cookiesSet(opened));
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/card');
    const cookie = [res.headers['set-cookie']].flat().map(String);
    assert.match(cookie[0]!, /^vault_card_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200$/);
    assert.equal(cookie[1], 'vault_card_session_signin=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
    const page = await get('/card', sessionFrom(res));
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<span class="account">acct-web-1<\/span>/);
  });

  test('handed over from the invoice pages (`next`): lands on that page of its own once signed in, straight on when already signed in as that account (the link used up all the same); any other `next` is /card', async () => {
    const link = await signInLink(w, token);
    const opened = await w.http.inject({
      method: 'GET',
      url: `/signin?link=${encodeURIComponent(link)}&next=${encodeURIComponent('/payments/pi_abc123')}`,
    });
    assert.equal(opened.statusCode, 200);
    assert.match(opened.body, /<input type="hidden" name="next" value="\/payments\/pi_abc123">/);
    const res = await postSignIn({ link, _csrf: signInForm(opened.body).csrf, next: '/payments/pi_abc123' }, cookiesSet(opened));
    assert.deepEqual([res.statusCode, res.headers.location], [303, '/payments/pi_abc123']);
    const session = sessionFrom(res)!;
    // Signed in here already as that account: a new link goes straight on, in the same session,
    // and is used up (it has travelled in an address): opened again it is refused.
    const again = await signInLink(w, token);
    const straight = await w.http.inject({
      method: 'GET',
      url: `/signin?link=${encodeURIComponent(again)}&next=%2Fcard`,
      headers: { cookie: `${SESSION_COOKIE}=${session}` },
    });
    assert.deepEqual([straight.statusCode, straight.headers.location], [303, '/card']);
    assert.equal(straight.headers['set-cookie'], undefined, 'the session is kept');
    assert.equal((await openLink(again)).statusCode, 401, 'the link was used up');
    const { rows } = await w.db.pool.query('select used_at is not null as used from invoicing.sign_in_links where hash = $1', [
      sha256(again),
    ]);
    assert.deepEqual(rows, [{ used: true }]);
    assert.equal((await get('/card', session)).statusCode, 200);
    // Never another site, nor a page the app does not allow.
    for (const next of ['https://evil.example/', '//evil.example/', '/signout', '/payments/../card']) {
      const link3 = await signInLink(w, token);
      const page = await w.http.inject({
        method: 'GET',
        url: `/signin?link=${encodeURIComponent(link3)}&next=${encodeURIComponent(next)}`,
      });
      const landed = await postSignIn({ link: link3, _csrf: signInForm(page.body).csrf, next }, cookiesSet(page));
      assert.equal(landed.headers.location, '/card', next);
    }
  });

  test('a used link back in the browser it signed in (Back, or submitted again after the first answer): on to its page in that session; without that session it is refused as ever', async () => {
    const link = await signInLink(w, token);
    const next = '/payments/pi_abc123';
    const url = `/signin?link=${encodeURIComponent(link)}&next=${encodeURIComponent(next)}`;
    const opened = await w.http.inject({ method: 'GET', url });
    const fields = { link, _csrf: signInForm(opened.body).csrf, next };
    const signedIn = await postSignIn(fields, cookiesSet(opened));
    assert.deepEqual([signedIn.statusCode, signedIn.headers.location], [303, next]);
    const session = `${SESSION_COOKIE}=${sessionFrom(signedIn)}`;
    const back = await w.http.inject({ method: 'GET', url, headers: { cookie: session } });
    assert.deepEqual([back.statusCode, back.headers.location], [303, next]);
    assert.equal(back.headers['set-cookie'], undefined, 'the session is kept, nothing opened');
    const withoutNext = await openLink(link, [session]);
    assert.deepEqual([withoutNext.statusCode, withoutNext.headers.location], [303, '/card']);
    // Submitted again after the first answer (Back, then "Sign in"): it cleared the sign-in form's cookie and set the session's.
    const again = await postSignIn(fields, [session]);
    assert.deepEqual([again.statusCode, again.headers.location], [303, next]);
    assert.equal(again.headers['set-cookie'], undefined);
    const sessions = await w.db.pool.query('select 1 from cc_forms.sessions where link_hash = $1', [sha256(link)]);
    assert.equal(sessions.rowCount, 1, 'one session for the link');
    // Without that session: no cookie, or a session of the same account another link opened.
    const other = `${SESSION_COOKIE}=${(await signIn(w, token)).session}`;
    for (const cookies of [[], [other]]) {
      const refused = await openLink(link, cookies);
      assert.equal(refused.statusCode, 401, cookies.join());
      assert.match(refused.body, ASK_FOR_A_NEW_LINK);
      assert.equal(sessionFrom(refused), undefined);
    }
    const replayed = await postSignIn(fields, cookiesSet(opened));
    assert.equal(replayed.statusCode, 401, 'the form token alone opens nothing');
    assert.equal(sessionFrom(replayed), undefined);
    assert.equal((await postSignIn(fields, [other])).statusCode, 403, 'another session: the form token is still required');
  });

  test('only the sha256 of the session id is stored, for 12 hours, with its token and link', async () => {
    const link = await signInLink(w, token);
    const session = sessionFrom(await confirmLink(w, link))!;
    const { rows } = await w.db.pool.query<{ account_id: string; hours: string; token_id: string; link_hash: string }>(
      `select account_id, extract(epoch from expires_at - created_at) / 3600 as hours, token_id, link_hash from cc_forms.sessions where hash = $1`,
      [sha256(session)],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.account_id, 'acct-web-1');
    assert.equal(Number(rows[0]!.hours), 12);
    assert.equal(rows[0]!.token_id, token);
    assert.equal(rows[0]!.link_hash, sha256(link));
    assert.equal((await w.db.pool.query('select 1 from cc_forms.sessions where hash = $1', [session])).rowCount, 0);
  });

  test('a link works once, across both apps: a link used here (or in invoicing) is refused with a page asking for a new link', async () => {
    const link = await signInLink(w, token);
    const opened = await openLink(link);
    const fields = { link, _csrf: signInForm(opened.body).csrf };
    const answers = await Promise.all([1, 2, 3].map(() => postSignIn(fields, cookiesSet(opened))));
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [303, 401, 401]);
    const again = await openLink(link);
    assert.equal(again.statusCode, 401);
    assert.match(again.body, ASK_FOR_A_NEW_LINK);
    const usedElsewhere = await signInLink(w, token);
    await w.db.pool.query(`select * from invoicing.consume_sign_in_link($1, 'invoicing')`, [sha256(usedElsewhere)]);
    assert.equal((await openLink(usedElsewhere)).statusCode, 401);
  });

  test('an expired link (expires_at in the past) is refused, opened or confirmed', async () => {
    const link = await signInLink(w, token);
    const opened = await openLink(link);
    await w.db.pool.query(`update invoicing.sign_in_links set expires_at = now() - interval '1 second' where hash = $1`, [sha256(link)]);
    const res = await postSignIn({ link, _csrf: signInForm(opened.body).csrf }, cookiesSet(opened));
    assert.equal(res.statusCode, 401);
    assert.equal(sessionFrom(res), undefined);
    assert.match(res.body, ASK_FOR_A_NEW_LINK);
    assert.equal((await openLink(link)).statusCode, 401);
  });

  test('an unknown link, an API token given as a link, and the old ?token= address are refused in customer words and set no cookie', async () => {
    for (const [url, status] of [
      [`/signin?link=vl_${'A'.repeat(43)}`, 401],
      [`/signin?link=vt_acct_${'A'.repeat(32)}`, 401],
      [`/signin?token=vt_acct_${'A'.repeat(32)}`, 400],
      ['/signin', 400],
    ] as const) {
      const res = await get(url);
      assert.equal(res.statusCode, status, url);
      assert.equal(res.headers['set-cookie'], undefined, url);
      assert.match(res.body, ASK_FOR_A_NEW_LINK, url);
      assert.doesNotMatch(res.body, /vault |TOKEN|--account/, url);
    }
  });

  test('opening a link while signed in as another account changes nothing until confirmed; the page names both', async () => {
    const a = await signIn(w, token);
    const link = await signInLink(w, await accountToken(w, 'acct-web-2'));
    const opened = await openLink(link, [`${SESSION_COOKIE}=${a.session}`]);
    assert.equal(opened.statusCode, 200);
    assert.match(opened.body, /<h1>Sign in as acct-web-2\?<\/h1>/);
    assert.match(opened.body, /You are signed in as <strong>acct-web-1<\/strong> now/);
    assert.equal(sessionFrom(opened), undefined);
    assert.match((await a.get('/card')).body, /<span class="account">acct-web-1<\/span>/, 'still acct-web-1');
    const res = await postSignIn({ link, _csrf: signInForm(opened.body).csrf }, [`${SESSION_COOKIE}=${a.session}`, ...cookiesSet(opened)]);
    assert.equal(res.statusCode, 303);
    assert.match((await get('/card', sessionFrom(res))).body, /<span class="account">acct-web-2<\/span>/);
    assert.equal((await a.get('/card')).statusCode, 303, 'the old session is closed');
  });

  test("confirming without this browser's sign-in form token (missing, wrong, another browser's) is 403 and the link stays usable", async () => {
    const link = await signInLink(w, token);
    const mine = await openLink(link);
    const theirs = await openLink(await signInLink(w, token));
    const { csrf } = signInForm(mine.body);
    for (const [fields, cookies] of [
      [{ link }, cookiesSet(mine)],
      [{ link, _csrf: 'x'.repeat(43) }, cookiesSet(mine)],
      [{ link, _csrf: csrf }, []],
      [{ link, _csrf: csrf }, cookiesSet(theirs)],
    ] as const) {
      const res = await postSignIn(fields, cookies);
      assert.equal(res.statusCode, 403, JSON.stringify([fields, cookies]));
      assert.equal(sessionFrom(res), undefined);
    }
    assert.equal((await postSignIn({ link, _csrf: csrf }, cookiesSet(mine))).statusCode, 303);
  });

  test('revoking or expiring the token ends its card form sessions at once (the JSON routes answer 401), and its links stop working', async () => {
    const tokenId = await accountToken(w, 'acct-web-3');
    const b = await signIn(w, tokenId);
    const unused = await signInLink(w, tokenId);
    assert.equal((await b.get('/card')).statusCode, 200);
    await w.db.pool.query('update invoicing.tokens set revoked_at = now() where id = $1', [tokenId]);
    assert.equal((await b.get('/card')).statusCode, 303);
    assert.equal((await b.postJson('/card/setup-intents', {})).statusCode, 401);
    assert.equal((await openLink(unused)).statusCode, 401);
    const expiring = await accountToken(w, 'acct-web-3');
    const c = await signIn(w, expiring);
    await w.db.pool.query(`update invoicing.tokens set expires_at = now() - interval '1 second' where id = $1`, [expiring]);
    assert.equal((await c.get('/card')).statusCode, 303);
    assert.equal((await signIn(w, token).then((s) => s.get('/card'))).statusCode, 200, "other tokens' sessions live on");
  });

  test('without a session /card redirects to /, which explains the sign-in link; a dead cookie is cleared', async () => {
    const res = await get('/card');
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/');
    const help = await get('/');
    assert.match(help.body, /open the sign-in link you were given/);
    assert.match(help.body, ASK_FOR_A_NEW_LINK);
    assert.doesNotMatch(help.body, /vault token/);
    const dead = await get('/card', 'A'.repeat(43));
    assert.equal(dead.statusCode, 303);
    assert.match(String(dead.headers['set-cookie']), /vault_card_session=; .*Max-Age=0/);
  });

  test('an expired session is not signed in', async () => {
    const { session } = await signIn(w, token);
    await w.db.pool.query(`update cc_forms.sessions set expires_at = now() - interval '1 second' where hash = $1`, [sha256(session)]);
    assert.equal((await get('/card', session)).statusCode, 303);
  });

  test("without invoicing's sign-in links, sign-in answers 503 saying so", async () => {
    const bare = await world({ invoicing: false });
    try {
      const res = await bare.http.inject({ method: 'GET', url: `/signin?link=vl_${'A'.repeat(43)}` });
      assert.equal(res.statusCode, 503);
      assert.match(res.body, /invoicing service has not set up its sign-in links/);
      assert.match(bare.log.lines.join('\n'), /event=web.signin_unavailable/);
      // A page with a session cookie (an upgrade: cc-forms before invoicing's migrations): 503 too, not a 500.
      const page = await bare.http.inject({ method: 'GET', url: '/card', headers: { cookie: `vault_card_session=${'A'.repeat(43)}` } });
      assert.equal(page.statusCode, 503);
      assert.match(page.body, /invoicing service has not set up its sign-in links/);
    } finally {
      await bare.close();
    }
  });
});

describe('what reaches the logs', () => {
  test('sign-in links, session ids and CSRF tokens never do; account and token ids do', async () => {
    const link = await signInLink(w, token);
    const opened = await openLink(link);
    const { csrf } = signInForm(opened.body);
    await postSignIn({ link, _csrf: csrf }, cookiesSet(opened));
    const b = await signIn(w, token);
    assert.equal((await b.postJson('/card/setup-intents', {}, null)).statusCode, 403);
    const lines = w.log.lines.join('\n');
    for (const secret of [link, sha256(link), csrf, b.session, b.csrf]) assert.ok(!lines.includes(secret));
    assert.match(lines, new RegExp(`event=web.signin account_id=acct-web-1 token_id=${token}`));
    assert.match(lines, /event=web.csrf_refused method=POST path=\/card\/setup-intents token=missing/);
  });
});
