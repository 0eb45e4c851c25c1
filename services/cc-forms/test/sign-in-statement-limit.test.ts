// Signing in to the card form when the database stops the request at DATABASE_STATEMENT_TIMEOUT_MS:
// cc-forms on a real port over a real PostgreSQL, its requests through a pool limited to 300 ms, a
// session of the test's own holding cc_forms.sessions' lock, asked over HTTP as Chromium asks (its
// Accept header, its form post). The browser gets a busy page (503, Retry-After), and the link is
// still usable afterwards, once.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { openPool, openRequestPool } from '@vault/db';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { holdSessions, routesOver } from './busy-database.ts';
import { accountToken, signInLink, world, type World } from './world.ts';

const LIMIT_MS = 300;
const ACCOUNT = 'acct-limit-1';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** What Chromium sends when it opens a page or posts a form. */
const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
/** `name=value` of each cookie an answer sets (a cleared one too). */
const cookiesOf = (res: Response) => res.headers.getSetCookie().map((c) => c.split(';')[0]!);

describe('signing in to the card form behind a held lock (statement limit 300 ms, real HTTP)', { timeout: 120_000 }, () => {
  let w: World;
  let pool: pg.Pool;
  let base: string;
  const log = memoryLogger({ app: 'cc-forms' });
  const app = createHttpApp(log, { statementTimeoutMs: LIMIT_MS });

  before(async () => {
    w = await world();
    pool = openRequestPool(w.db.url, { statementTimeoutMs: LIMIT_MS, max: 4 });
    routesOver(app, { pool, gateway: w.gateway, log });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app.close();
    await pool?.end();
    await w?.close();
  });

  /** The confirmation form posted as a browser posts it. */
  const confirm = (form: Record<string, string>, cookies: readonly string[]) =>
    fetch(`${base}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { accept: BROWSER_ACCEPT, cookie: cookies.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  const usedAt = async (link: string) =>
    (await w.db.pool.query<{ used_at: Date | null }>('select used_at from invoicing.sign_in_links where hash = $1', [sha256(link)])).rows[0]
      ?.used_at;

  test('a sign-in stopped at the limit answers the browser a busy page (503, Retry-After) and leaves the link unused; once the lock is gone the same link signs in, and never again', async () => {
    const link = await signInLink(w, await accountToken(w, ACCOUNT));
    const opened = await fetch(`${base}/signin?link=${encodeURIComponent(link)}`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(opened.status, 200);
    const formCookie = cookiesOf(opened);
    const form = { link, _csrf: /name="_csrf" value="([^"]+)"/.exec(await opened.text())?.[1] ?? '' };

    // Exclusive, not access exclusive: the link's lookup reads on, only the session's insert waits.
    const holder = await holdSessions(w.db.url, 'exclusive');
    try {
      const busy = await confirm(form, formCookie);
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get('retry-after'), '5');
      assert.equal(busy.headers.get('content-type'), 'text/html; charset=utf-8');
      const body = await busy.text();
      assert.match(body, /<h1>Busy: please try again<\/h1>/);
      assert.match(body, /please try again in a few seconds/);
      assert.doesNotMatch(body, /cancel|statement|sessions|vl_/);
      assert.equal(await usedAt(link), null, 'the link is not used up by the sign-in that was stopped');
      assert.deepEqual(cookiesOf(busy), [], 'no session cookie, and the sign-in form cookie kept for the retry');
      assert.ok(
        log.lines.some((l) => /at=warn event=http\.database_timeout path=\/signin reason=statement_timeout limit_ms=300/.test(l)),
        log.lines.join('\n'),
      );
    } finally {
      await holder.query('commit');
      await holder.end();
    }

    // The same confirmation posted again (the busy page reloaded): signed in.
    const signedIn = await confirm(form, formCookie);
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.headers.get('location'), '/card');
    const session = cookiesOf(signedIn).find((c) => c.startsWith('vault_card_session='));
    assert.ok(session, 'a session cookie');
    assert.ok(await usedAt(link), 'used by the sign-in that opened the session');
    const card = await fetch(`${base}/card`, { headers: { accept: BROWSER_ACCEPT, cookie: session } });
    assert.equal(card.status, 200);
    assert.match(await card.text(), new RegExp(`<span class="account">${ACCOUNT}</span>`));
    assert.ok(!log.lines.some((l) => /at=error/.test(l)), log.lines.join('\n'));

    // Another browser with the same link: refused, as any used link.
    const again = await fetch(`${base}/signin?link=${encodeURIComponent(link)}`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(again.status, 401);
    assert.match(await again.text(), /Please ask your account's administrator for a new sign-in link\./);
  });

  test('the link cannot be used twice: two posts of the same confirmation at once open one session between them', async () => {
    const link = await signInLink(w, await accountToken(w, ACCOUNT));
    const opened = await fetch(`${base}/signin?link=${encodeURIComponent(link)}`, { headers: { accept: BROWSER_ACCEPT } });
    const form = { link, _csrf: /name="_csrf" value="([^"]+)"/.exec(await opened.text())?.[1] ?? '' };
    const answers = (await Promise.all([confirm(form, cookiesOf(opened)), confirm(form, cookiesOf(opened))])).map((r) => r.status).sort();
    assert.deepEqual(answers, [303, 401]);
    const { rows } = await w.db.pool.query<{ n: number }>('select count(*)::int as n from cc_forms.sessions where link_hash = $1', [
      sha256(link),
    ]);
    assert.equal(rows[0]!.n, 1);
  });
});

describe('the card form when PostgreSQL refuses the session (53300)', () => {
  test('a browser opening a page gets the busy page (503, Retry-After), not the 500 page', async () => {
    const w = await world();
    const role = `ccf_busy_${process.pid}`;
    await w.db.pool.query(`create role ${role} login password 'busy' connection limit 0`);
    const url = new URL(w.db.url);
    url.username = role;
    url.password = 'busy';
    const pool = openPool(url.toString(), { max: 1 });
    const log = memoryLogger({ app: 'cc-forms' });
    const app = createHttpApp(log);
    routesOver(app, { pool, gateway: w.gateway, log });
    try {
      const link = await signInLink(w, await accountToken(w, ACCOUNT));
      const page = await app.inject({
        method: 'GET',
        url: `/signin?link=${encodeURIComponent(link)}`,
        headers: { accept: BROWSER_ACCEPT },
      });
      assert.equal(page.statusCode, 503);
      assert.equal(page.headers['retry-after'], '5');
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(page.body, /<h1>Busy: please try again<\/h1>/);
      assert.ok(
        log.lines.some((l) => /at=warn event=http\.database_busy path=\/signin reason=too_many_connections/.test(l)),
        log.lines.join('\n'),
      );
      assert.ok(!log.lines.some((l) => /at=error/.test(l)), log.lines.join('\n'));
    } finally {
      await app.close();
      await pool.end();
      await w.db.pool.query(`drop role if exists ${role}`);
      await w.close();
    }
  });
});
