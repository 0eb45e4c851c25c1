// The invoice pages' hand-over, on the card form's side, in process over a real
// database: a hand-over link (written as invoicing's /card-form writes it) opens
// a session that lives no longer than the invoice pages' session it came from.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { accountToken, confirmLink, csrfFrom, handOverLink, SESSION_COOKIE, sessionFrom, signIn, type World, world } from './world.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let w: World;
let token: string;
before(async () => {
  w = await world();
  token = await accountToken(w, 'acct-hand-over');
});
after(async () => {
  await w?.close();
});

const get = (url: string, session?: string) =>
  w.http.inject({ method: 'GET', url, headers: session ? { cookie: `${SESSION_COOKIE}=${session}` } : {} });
/** The header's Sign out button: its form posts the session's CSRF token. */
const signOut = async (session: string) =>
  w.http.inject({
    method: 'POST',
    url: '/signout',
    headers: { cookie: `${SESSION_COOKIE}=${session}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: csrfFrom((await get('/card', session)).body) }).toString(),
  });
/** The invoice pages' hand-over into the session the browser has (signed in here as that account): straight on. */
const straightOn = (link: string, session: string) => get(`/signin?link=${encodeURIComponent(link)}&next=%2Fcard`, session);
const invoicingSession = async (hash: string) =>
  (await w.db.pool.query('select 1 from invoicing.sessions where hash = $1', [hash])).rowCount;
const expiry = async (table: string, hash: string) =>
  (await w.db.pool.query<{ expires_at: Date }>(`select expires_at from ${table} where hash = $1`, [hash])).rows[0]!.expires_at;

describe('handed over from the invoice pages', () => {
  test('the session a hand-over link opens ends when the invoice pages’ session it came from does: expires_at and the cookie’s Max-Age, not 12 h', async () => {
    const { link, parentSession } = await handOverLink(w, token, 1);
    const res = await confirmLink(w, link);
    assert.equal(res.statusCode, 303);
    const session = sessionFrom(res)!;
    const cookie = [res.headers['set-cookie']].flat().find((c) => c?.startsWith(`${SESSION_COOKIE}=`));
    const maxAge = Number(/; Max-Age=(\d+)/.exec(String(cookie))?.[1]);
    assert.ok(maxAge > 3500 && maxAge <= 3600, `Max-Age ${maxAge}`);
    const [mine, parent] = [await expiry('cc_forms.sessions', sha256(session)), await expiry('invoicing.sessions', parentSession)];
    assert.ok(mine <= parent && parent.getTime() - mine.getTime() < 1, `${mine.toISOString()} vs ${parent.toISOString()}`);
    assert.equal((await get('/card', session)).statusCode, 200);
  });

  test('signing out of the invoice pages (their session row deleted) ends the card form session at its next request; so does that session expiring', async () => {
    const signedOut = await handOverLink(w, token);
    const a = sessionFrom(await confirmLink(w, signedOut.link))!;
    const expiring = await handOverLink(w, token);
    const b = sessionFrom(await confirmLink(w, expiring.link))!;
    const operator = await signIn(w, token);
    assert.deepEqual([(await get('/card', a)).statusCode, (await get('/card', b)).statusCode], [200, 200]);
    await w.db.pool.query('delete from invoicing.sessions where hash = $1', [signedOut.parentSession]);
    const ended = await get('/card', a);
    assert.deepEqual([ended.statusCode, ended.headers.location], [303, '/']);
    assert.match(String(ended.headers['set-cookie']), /vault_card_session=; .*Max-Age=0/);
    assert.equal((await get('/card', b)).statusCode, 200, 'another invoice pages session’s hand-over lives on');
    await w.db.pool.query(`update invoicing.sessions set expires_at = now() - interval '1 second' where hash = $1`, [
      expiring.parentSession,
    ]);
    assert.equal((await get('/card', b)).statusCode, 303);
    assert.equal((await operator.get('/card')).statusCode, 200, "an operator's link's session is not handed over: it lives on");
  });

  test('signing out of the card form ends the invoice pages’ session it was handed over from (invoicing.end_hand_over_parent); other sessions live on', async () => {
    const mine = await handOverLink(w, token);
    const a = sessionFrom(await confirmLink(w, mine.link))!;
    const other = await handOverLink(w, token);
    const b = sessionFrom(await confirmLink(w, other.link))!;
    const out = await signOut(a);
    assert.deepEqual([out.statusCode, out.headers.location], [303, '/']);
    assert.equal(await invoicingSession(mine.parentSession), 0, 'the invoice pages’ session it came from is gone');
    assert.equal((await get('/card', a)).statusCode, 303, 'signed out here');
    assert.match(w.log.lines.join('\n'), /event=web\.signout_hand_over\b/);
    assert.equal(await invoicingSession(other.parentSession), 1, 'another invoice pages session lives on');
    assert.equal((await get('/card', b)).statusCode, 200, 'and so does its hand-over');
  });

  test('hand-overs into a session already open (an operator’s link’s): signing out ends every invoice pages’ session that handed over into it; others live on', async () => {
    const operator = await signIn(w, token);
    const first = await handOverLink(w, token);
    const second = await handOverLink(w, token);
    for (const { link } of [first, second]) {
      const res = await straightOn(link, operator.session);
      assert.deepEqual([res.statusCode, res.headers.location, res.headers['set-cookie']], [303, '/card', undefined], 'straight on');
    }
    const other = await handOverLink(w, token);
    const b = sessionFrom(await confirmLink(w, other.link))!;
    const out = await signOut(operator.session);
    assert.deepEqual([out.statusCode, out.headers.location], [303, '/']);
    assert.equal(await invoicingSession(first.parentSession), 0, 'the first invoice pages’ session that handed over is gone');
    assert.equal(await invoicingSession(second.parentSession), 0, 'and so is the second');
    assert.match(w.log.lines.join('\n'), /event=web\.signout_hand_over sessions_ended=2\b/);
    assert.equal((await get('/card', operator.session)).statusCode, 303, 'signed out here');
    assert.equal(await invoicingSession(other.parentSession), 1, 'another invoice pages session lives on');
    assert.equal((await get('/card', b)).statusCode, 200, 'and so does its hand-over');
    const { rows } = await w.db.pool.query('select count(*)::int as n from cc_forms.session_hand_overs where session_hash = $1', [
      sha256(operator.session),
    ]);
    assert.deepEqual(rows, [{ n: 0 }], 'the records went with the session');
  });

  test('signing out of the invoice pages ends the card form session it handed over into straight on (an operator’s link’s); one no hand-over joined lives on', async () => {
    const operator = await signIn(w, token);
    const untouched = await signIn(w, token);
    const joined = await handOverLink(w, token);
    assert.equal((await straightOn(joined.link, operator.session)).headers.location, '/card', 'straight on');
    assert.equal((await get('/card', operator.session)).statusCode, 200);
    await w.db.pool.query('delete from invoicing.sessions where hash = $1', [joined.parentSession]);
    const ended = await get('/card', operator.session);
    assert.deepEqual([ended.statusCode, ended.headers.location], [303, '/'], 'the shared computer’s card form is signed out too');
    assert.equal((await untouched.get('/card')).statusCode, 200, 'a session no hand-over joined lives on');
  });

  test('a newer hand-over into a session an older hand-over opened: signing out ends both invoice pages’ sessions, not only the one that opened it', async () => {
    const older = await handOverLink(w, token);
    const a = sessionFrom(await confirmLink(w, older.link))!;
    const newer = await handOverLink(w, token);
    assert.equal((await straightOn(newer.link, a)).headers.location, '/card');
    assert.equal((await signOut(a)).statusCode, 303);
    assert.equal(await invoicingSession(newer.parentSession), 0, 'the newer link’s session can no longer open the card form');
    assert.equal(await invoicingSession(older.parentSession), 0, 'the one that opened it is gone as ever');
  });

  test('signing out of a session an operator’s link opened ends nothing of the invoice pages; the published function ends only a used hand-over’s parent', async () => {
    const operator = await signIn(w, token);
    const unused = await handOverLink(w, token);
    const before = (await w.db.pool.query('select count(*)::int as n from invoicing.sessions')).rows[0]!.n;
    assert.equal((await signOut(operator.session)).statusCode, 303);
    assert.equal((await get('/card', operator.session)).statusCode, 303, 'signed out here');
    const ended = await w.db.pool.query<{ n: number }>(`select invoicing.end_hand_over_parent($1, 'cc-forms') as n`, [sha256(unused.link)]);
    assert.deepEqual(ended.rows, [{ n: 0 }], 'an unused link ends nothing');
    assert.equal((await w.db.pool.query('select count(*)::int as n from invoicing.sessions')).rows[0]!.n, before);
    assert.equal(await invoicingSession(unused.parentSession), 1);
  });

  test('invoicing not migrated to end_hand_over_parent yet (cc-forms upgraded first): signing out still ends the card form session, logged', async () => {
    const older = await world();
    try {
      await older.db.pool.query('drop function invoicing.end_hand_over_parent(text, text)');
      const { link, parentSession } = await handOverLink(older, await accountToken(older, 'acct-older-invoicing'));
      const session = sessionFrom(await confirmLink(older, link))!;
      const cookie = { cookie: `${SESSION_COOKIE}=${session}` };
      const csrf = csrfFrom((await older.http.inject({ method: 'GET', url: '/card', headers: cookie })).body);
      const out = await older.http.inject({
        method: 'POST',
        url: '/signout',
        headers: { ...cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: csrf }).toString(),
      });
      assert.deepEqual([out.statusCode, out.headers.location], [303, '/']);
      assert.equal((await older.http.inject({ method: 'GET', url: '/card', headers: cookie })).statusCode, 303);
      assert.match(older.log.lines.join('\n'), /at=error event=web\.signout_hand_over_unavailable/);
      const { rowCount } = await older.db.pool.query('select 1 from invoicing.sessions where hash = $1', [parentSession]);
      assert.equal(rowCount, 1, 'the invoice pages’ session cannot be ended from here');
    } finally {
      await older.close();
    }
  });

  test('a hand-over link whose session has ended opens nothing: refused, opened or confirmed, and logged as ended', async () => {
    const { link, parentSession } = await handOverLink(w, token);
    const opened = await w.http.inject({ method: 'GET', url: `/signin?link=${encodeURIComponent(link)}` });
    assert.equal(opened.statusCode, 200);
    await w.db.pool.query('delete from invoicing.sessions where hash = $1', [parentSession]);
    assert.equal((await w.http.inject({ method: 'GET', url: `/signin?link=${encodeURIComponent(link)}` })).statusCode, 401);
    const { rows } = await w.db.pool.query(`select * from invoicing.consume_sign_in_link($1, 'cc-forms')`, [sha256(link)]);
    assert.deepEqual(rows, [], 'the published function refuses it too');
    assert.match(w.log.lines.join('\n'), /event=web.signin_refused reason=ended/);
  });
});
