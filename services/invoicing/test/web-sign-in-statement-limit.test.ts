// Signing in to the invoice pages when the database stops the request at DATABASE_STATEMENT_TIMEOUT_MS:
// invoicing on a real port over a real PostgreSQL, its requests through a pool limited to 300 ms, a
// session of the test's own holding invoicing.sessions' lock, asked over HTTP as Chromium asks (its
// Accept header, its form post). The browser gets a busy page (503, Retry-After), and the link is
// still usable afterwards, once: its use and the session commit together.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openRequestPool } from '@vault/db';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { linkHash } from '@vault/web';
import { invoicingRoutes } from '../src/app.ts';
import { createSignInLink } from '../src/access/sign-in-links.ts';
import { issueToken } from '../src/access/tokens.ts';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { billingDatabase } from './seed.ts';

const LIMIT_MS = 300;
const ACCOUNT = 'acct-signin-limit';
/** What Chromium sends when it opens a page or posts a form. */
const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
/** Each Set-Cookie header of an answer, whole. */
const setCookies = (res: Response) => res.headers.getSetCookie();
/** `name=value` of each cookie an answer sets (what a browser sends back). */
const cookiesOf = (res: Response) => setCookies(res).map((c) => c.split(';')[0]!);

/** Invoicing listening on a free port, its requests querying through `pool`. */
async function invoicing(pool: pg.Pool, invoicingWebUrl?: string) {
  const log = memoryLogger({ app: 'invoicing' });
  const prices = loadPriceBook();
  const billing = createBilling({ pool, viewPool: pool, prices, graceHours: 72 });
  const http = createHttpApp(log, { statementTimeoutMs: LIMIT_MS });
  invoicingRoutes(http, { pool, billing, prices, adminToken: 'test-admin-token-signin-limit-0123456789', log, invoicingWebUrl });
  const base = await http.listen({ port: 0, host: '127.0.0.1' });
  return { log, base, close: () => http.close() };
}

describe('signing in to the invoice pages behind a held lock (statement limit 300 ms, real HTTP)', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let tokenId: string;
  before(async () => {
    db = await billingDatabase();
    pool = openRequestPool(db.url, { statementTimeoutMs: LIMIT_MS, max: 4 });
    tokenId = (await issueToken(db.pool, { kind: 'account', accountId: ACCOUNT })).id;
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  const usedAt = async (link: string) =>
    (await db.pool.query<{ used_at: Date | null }>('select used_at from invoicing.sign_in_links where hash = $1', [linkHash(link)])).rows[0]
      ?.used_at;
  /** The confirmation page opened as a browser opens it: its form's fields and the cookie it sets. */
  const open = async (base: string, link: string) => {
    const opened = await fetch(`${base}/signin?link=${encodeURIComponent(link)}`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(opened.status, 200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await opened.text())?.[1] ?? '';
    return { form: { link, _csrf: csrf }, cookies: cookiesOf(opened) };
  };
  /** The confirmation form posted as a browser posts it. */
  const confirm = (base: string, form: Record<string, string>, cookies: readonly string[]) =>
    fetch(`${base}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { accept: BROWSER_ACCEPT, cookie: cookies.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });

  test('a sign-in stopped at the limit answers the browser a busy page (503, Retry-After) and leaves the link unused; once the lock is gone the same link signs in, and never again', async () => {
    const app = await invoicing(pool);
    try {
      const link = await createSignInLink(db.pool, { accountId: ACCOUNT, tokenId });
      const { form, cookies } = await open(app.base, link);

      // Reads go on; the session's insert waits on the lock until the limit stops it.
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      try {
        await holder.query('begin');
        await holder.query('lock table invoicing.sessions in exclusive mode');
        const busy = await confirm(app.base, form, cookies);
        assert.equal(busy.status, 503);
        assert.equal(busy.headers.get('retry-after'), '5');
        assert.equal(busy.headers.get('content-type'), 'text/html; charset=utf-8');
        const body = await busy.text();
        assert.match(body, /<h1>Busy: please try again<\/h1>/);
        assert.doesNotMatch(body, /cancel|statement|sessions|vl_/);
        assert.equal(await usedAt(link), null, 'the link is not used up by the sign-in that was stopped');
        assert.deepEqual(cookiesOf(busy), [], 'no session cookie, and the sign-in form cookie kept for the retry');
        assert.ok(
          app.log.lines.some((l) => /at=warn event=http\.database_timeout path=\/signin reason=statement_timeout limit_ms=300/.test(l)),
          app.log.lines.join('\n'),
        );
      } finally {
        await holder.query('commit');
        await holder.end();
      }

      // The same confirmation posted again (the busy page reloaded): signed in.
      const signedIn = await confirm(app.base, form, cookies);
      assert.equal(signedIn.status, 303);
      assert.equal(signedIn.headers.get('location'), '/invoices');
      const session = cookiesOf(signedIn).find((c) => c.startsWith('vault_session='));
      assert.ok(session, 'a session cookie');
      assert.ok(await usedAt(link), 'used by the sign-in that opened the session');
      const invoices = await fetch(`${app.base}/invoices`, { headers: { accept: BROWSER_ACCEPT, cookie: session } });
      assert.equal(invoices.status, 200);
      assert.match(await invoices.text(), new RegExp(ACCOUNT));
      const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from invoicing.sessions where link_hash = $1', [
        linkHash(link),
      ]);
      assert.equal(rows[0]!.n, 1, 'one session from the link');
      assert.ok(!app.log.lines.some((l) => /at=error/.test(l)), app.log.lines.join('\n'));

      // Posted once more, or opened in another browser: refused, as any used link.
      const third = await confirm(app.base, form, cookies);
      assert.equal(third.status, 401);
      assert.deepEqual(cookiesOf(third), [], 'no session');
      const again = await fetch(`${app.base}/signin?link=${encodeURIComponent(link)}`, { headers: { accept: BROWSER_ACCEPT } });
      assert.equal(again.status, 401);
      assert.match(await again.text(), /Please ask your account's administrator for a new sign-in link\./);
    } finally {
      await app.close();
    }
  });

  test('with an https INVOICING_WEB_URL the session cookie set after the commit is __Host-vault_session; Secure, over plain http too', async () => {
    const app = await invoicing(pool, 'https://billing.example.com');
    try {
      const link = await createSignInLink(db.pool, { accountId: ACCOUNT, tokenId });
      const { form, cookies } = await open(app.base, link);
      assert.ok(
        cookies.some((c) => c.startsWith('__Host-vault_session_signin=')),
        cookies.join('; '),
      );
      const signedIn = await confirm(app.base, form, cookies);
      assert.equal(signedIn.status, 303);
      const set = setCookies(signedIn);
      assert.ok(
        set.some((c) => /^__Host-vault_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/.test(c)),
        set.join('\n'),
      );
      assert.ok(
        set.some((c) => c.startsWith('__Host-vault_session_signin=;')),
        `the sign-in form's cookie is cleared: ${set.join('\n')}`,
      );
      assert.ok(!set.some((c) => /^vault_session=/.test(c)), set.join('\n'));
    } finally {
      await app.close();
    }
  });
});
