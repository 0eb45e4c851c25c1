// The invoice pages' hand-over to the card form (GET /card-form), through
// http.inject over a real database: the link it makes is for cc-forms alone and
// tied to this session, a session may have only so many unused ones, and making
// links deletes those that can no longer matter.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { linkHash, sessionHash } from '@vault/web';
import { HAND_OVER_LINKS_LIMIT, HAND_OVER_LINKS_MADE_LIMIT } from '../src/access/sign-in-links.ts';
import { ACCOUNT_A, ACCOUNT_B, cookiesSet, signInForm, webClient, webWorld, type WebWorld } from './web-fixture.ts';

let world: WebWorld;
before(async () => {
  world = await webWorld();
});
after(async () => {
  await world?.close();
});
const { get, openLink, postSignIn, signIn } = webClient(() => world);
const query = async <T extends object>(sql: string, params: unknown[] = []) => (await world.db.pool.query<T>(sql, params)).rows;

/** GET /card-form?to=card as the session: the answer, and the link's secret when it hands over. */
async function handOver(session: string) {
  const res = await get('/card-form?to=card', session);
  const link = res.statusCode === 303 ? new URL(String(res.headers.location)).searchParams.get('link') : null;
  return { res, link };
}

/** Signs the session out as its header button does (GET /signout for the form token, then the POST). */
async function signOut(session: string) {
  const csrf = /name="_csrf" value="([^"]+)"/.exec((await get('/signout', session)).body)![1]!;
  const res = await world.http.inject({
    method: 'POST',
    url: '/signout',
    headers: { cookie: `vault_session=${session}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: `_csrf=${encodeURIComponent(csrf)}`,
  });
  assert.equal(res.statusCode, 303);
}

describe('the hand-over to the card form', () => {
  test('its link is for cc-forms alone: the invoice pages treat it as no link, opened or confirmed, so a stolen session cookie cannot turn it into a fresh session here', async () => {
    const session = await signIn(ACCOUNT_A);
    const { link } = await handOver(session);
    assert.ok(link);
    const opened = await openLink(link);
    assert.equal(opened.statusCode, 401);
    assert.match(world.log.lines.join('\n'), /event=web.signin_refused reason=unknown_link/);
    // Confirmed with a genuine sign-in form token of this browser (from another link's page).
    const form = await openLink(await world.link(ACCOUNT_A));
    const confirmed = await postSignIn({ link, _csrf: signInForm(form.body).csrf }, cookiesSet(form));
    assert.equal(confirmed.statusCode, 401);
    assert.doesNotMatch(String(confirmed.headers['set-cookie']), /vault_session=[^;]/);
    assert.deepEqual(await query('select app, parent_session, used_at from invoicing.sign_in_links where hash = $1', [linkHash(link)]), [
      { app: 'cc-forms', parent_session: sessionHash(session), used_at: null },
    ]);
  });

  test('made an hour before the session ends, its link gives cc-forms that end (ends_by), not a fresh 12 hours', async () => {
    const session = await signIn(ACCOUNT_A);
    await world.db.pool.query(`update invoicing.sessions set expires_at = now() + interval '1 hour' where hash = $1`, [
      sessionHash(session),
    ]);
    const { link } = await handOver(session);
    const [grant] = await query<{ ends_by: Date }>(`select ends_by from invoicing.consume_sign_in_link($1, 'cc-forms')`, [linkHash(link!)]);
    const [parent] = await query<{ expires_at: Date }>('select expires_at from invoicing.sessions where hash = $1', [sessionHash(session)]);
    assert.equal(grant!.ends_by.getTime(), parent!.expires_at.getTime());
  });

  test('signing out takes its links out of invoicing.live_links (the card form sessions they opened end), and unused ones say ended', async () => {
    const session = await signIn(ACCOUNT_A);
    const used = (await handOver(session)).link!;
    await query(`select * from invoicing.consume_sign_in_link($1, 'cc-forms')`, [linkHash(used)]);
    const unused = (await handOver(session)).link!;
    const live = () => query('select hash from invoicing.live_links where hash = any($1)', [[linkHash(used), linkHash(unused)]]);
    assert.equal((await live()).length, 2);
    await signOut(session);
    assert.deepEqual(await live(), []);
    assert.deepEqual(await query('select state from invoicing.sign_in_link_status where hash = $1', [linkHash(unused)]), [
      { state: 'ended' },
    ]);
  });

  test(`a session may have ${HAND_OVER_LINKS_LIMIT} unused hand-over links of the last 15 minutes: the next is a 429 page with Retry-After and no link; a used or older link frees a place; other sessions are not limited`, async () => {
    const session = await signIn(ACCOUNT_B);
    const links: string[] = [];
    for (let i = 0; i < HAND_OVER_LINKS_LIMIT; i++) links.push((await handOver(session)).link!);
    assert.equal(new Set(links).size, HAND_OVER_LINKS_LIMIT);
    const limited = (await handOver(session)).res;
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers.location, undefined);
    assert.ok(
      Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 900,
      String(limited.headers['retry-after']),
    );
    assert.match(limited.body, /<h1>Too many card form links<\/h1>/);
    assert.match(world.log.lines.join('\n'), /event=web.card_form_handoff_limited account_id=acct-web-b retry_after_s=\d+/);
    const count = async () =>
      (
        await query<{ n: number }>('select count(*)::int as n from invoicing.sign_in_links where parent_session = $1', [
          sessionHash(session),
        ])
      )[0]!.n;
    assert.equal(await count(), HAND_OVER_LINKS_LIMIT, 'no link was made');
    assert.equal((await handOver(await signIn(ACCOUNT_B))).res.statusCode, 303, 'another session');
    await query(`select * from invoicing.consume_sign_in_link($1, 'cc-forms')`, [linkHash(links[0]!)]);
    assert.equal((await handOver(session)).res.statusCode, 303, 'a used link frees a place');
    assert.equal((await handOver(session)).res.statusCode, 429);
    await world.db.pool.query(
      `update invoicing.sign_in_links set created_at = now() - interval '16 minutes', expires_at = now() - interval '1 minute' where parent_session = $1`,
      [sessionHash(session)],
    );
    assert.equal((await handOver(session)).res.statusCode, 303, 'older links do not count');
  });

  test(`links used up count too, up to ${HAND_OVER_LINKS_MADE_LIMIT} made in 15 minutes: the card form uses a link up even when it opens no session`, async () => {
    const session = await signIn(ACCOUNT_B);
    const useAll = () =>
      world.db.pool.query('update invoicing.sign_in_links set used_at = now() where parent_session = $1 and used_at is null', [
        sessionHash(session),
      ]);
    for (let made = 0; made < HAND_OVER_LINKS_MADE_LIMIT; made++) {
      assert.equal((await handOver(session)).res.statusCode, 303, `link ${made + 1}`);
      if ((made + 1) % HAND_OVER_LINKS_LIMIT === 0) await useAll();
    }
    const refused = await handOver(session);
    assert.equal(refused.res.statusCode, 429);
    assert.equal(refused.link, null);
  });

  test('the limit holds under concurrent requests of one session', async () => {
    const session = await signIn(ACCOUNT_B);
    const answers = await Promise.all(Array.from({ length: HAND_OVER_LINKS_LIMIT + 10 }, () => handOver(session)));
    const statuses = answers.map((a) => a.res.statusCode).sort();
    assert.deepEqual(statuses, [...Array(HAND_OVER_LINKS_LIMIT).fill(303), ...Array(10).fill(429)]);
  });

  test('another site navigating a signed-in browser to it (Sec-Fetch-Site: cross-site) makes no link: back to the invoices', async () => {
    const session = await signIn(ACCOUNT_B);
    const count = async () =>
      (
        await query<{ n: number }>('select count(*)::int as n from invoicing.sign_in_links where parent_session = $1', [
          sessionHash(session),
        ])
      )[0]!.n;
    const before = await count();
    const res = await world.http.inject({
      method: 'GET',
      url: '/card-form?to=card',
      headers: { cookie: `vault_session=${session}`, 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/invoices');
    assert.equal(await count(), before, 'no link was made');
    // From our own pages (same-origin, or same-site: cc-forms on another port) it hands over as ever.
    for (const site of ['same-origin', 'same-site', 'none']) {
      const ok = await world.http.inject({
        method: 'GET',
        url: '/card-form?to=card',
        headers: { cookie: `vault_session=${session}`, 'sec-fetch-site': site },
      });
      assert.match(String(ok.headers.location), /\/signin\?link=vl_/, site);
    }
  });

  test('making a link deletes those that can no longer matter, and keeps every link whose session may still live', async () => {
    const link = () => world.link(ACCOUNT_A);
    const expire = (secret: string, ago: string) =>
      world.db.pool.query(
        `update invoicing.sign_in_links set created_at = now() - $2::interval - interval '15 minutes', expires_at = now() - $2::interval where hash = $1`,
        [linkHash(secret), ago],
      );
    const exists = async (secret: string) =>
      (await query('select 1 from invoicing.sign_in_links where hash = $1', [linkHash(secret)])).length === 1;

    const unusedExpired = await link();
    await expire(unusedExpired, '1 second');
    const usedRecently = await link();
    const recentSession = await signInWith(usedRecently);
    await expire(usedRecently, '1 second');
    const usedLongAgo = await link();
    await signInWith(usedLongAgo);
    await expire(usedLongAgo, '2 days');
    const parent = await signIn(ACCOUNT_A);
    const liveHandOver = (await handOver(parent)).link!;
    await query(`select * from invoicing.consume_sign_in_link($1, 'cc-forms')`, [linkHash(liveHandOver)]);
    await expire(liveHandOver, '1 second');
    const ended = await signIn(ACCOUNT_A);
    const endedHandOver = (await handOver(ended)).link!;
    await query(`select * from invoicing.consume_sign_in_link($1, 'cc-forms')`, [linkHash(endedHandOver)]);
    await expire(endedHandOver, '1 second');
    await signOut(ended);
    const fresh = await link();

    await link(); // making a link cleans up
    assert.deepEqual(
      await Promise.all([unusedExpired, usedLongAgo, endedHandOver].map(exists)),
      [false, false, false],
      'unused and expired; used, expired a day ago; handed over from a session that has ended',
    );
    assert.deepEqual(await Promise.all([usedRecently, liveHandOver, fresh].map(exists)), [true, true, true]);
    assert.equal((await get('/invoices', recentSession)).statusCode, 200, 'the session of a kept link lives on');
    const again = await link();
    await expire(again, '1 second');
    await handOver(parent); // a hand-over cleans up too
    assert.equal(await exists(again), false);
  });
});

/** Confirms the link in this app: the session's id. */
async function signInWith(link: string): Promise<string> {
  const opened = await openLink(link);
  const res = await postSignIn({ link, _csrf: signInForm(opened.body).csrf }, cookiesSet(opened));
  assert.equal(res.statusCode, 303);
  return /vault_session=([^;]+)/.exec(String(res.headers['set-cookie']))![1]!;
}
