// The customer's web UI end to end: a real invoicing app over a real database
// and the real billing, driven by a real Chromium; then the sign-in link and
// session rules through http.inject.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Invoice } from '@vault/contracts';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { escapeHtml, html, linkHash } from '@vault/web';
import { invoicingRoutes } from '../src/app.ts';
import { createSignInLink } from '../src/access/sign-in-links.ts';
import { issueToken } from '../src/access/tokens.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { STYLESHEET } from '../src/web/assets.ts';
import { money } from '../src/web/html.ts';
import { seedUsage } from './seed.ts';
import { ACCOUNT_A, ACCOUNT_B, cookiesSet, sessionFrom, signInForm, webWorld, type WebWorld } from './web-fixture.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../../test-results/screenshots/', import.meta.url));
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const ASK_FOR_A_NEW_LINK = /Please ask your account's administrator for a new sign-in link\./;

let world: WebWorld;
before(async () => {
  world = await webWorld();
});
after(async () => {
  await world?.close();
});

/** The JSON API, as the customer's own token sees it. */
async function api<T>(path: string, token: string): Promise<T> {
  const res = await fetch(world.base + path, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as T;
}

const get = (url: string, session?: string) =>
  world.http.inject({ method: 'GET', url, headers: session ? { cookie: `vault_session=${session}` } : {} });

/** Opens a sign-in link as a browser with these cookies would: the confirmation page (or a refusal). */
const openLink = (link: string, cookies: readonly string[] = []) =>
  world.http.inject({
    method: 'GET',
    url: `/signin?link=${encodeURIComponent(link)}`,
    headers: cookies.length > 0 ? { cookie: cookies.join('; ') } : {},
  });

/** Posts the sign-in form with these fields and cookies. */
const postSignIn = (fields: Record<string, string>, cookies: readonly string[] = []) =>
  world.http.inject({
    method: 'POST',
    url: '/signin',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookies.length > 0 ? { cookie: cookies.join('; ') } : {}) },
    payload: new URLSearchParams(fields).toString(),
  });

/** Opens the link and presses its button, as a browser with these cookies would; the POST's answer. */
async function confirm(link: string, cookies: readonly string[] = []) {
  const opened = await openLink(link, cookies);
  assert.equal(opened.statusCode, 200, opened.body);
  const form = signInForm(opened.body);
  return postSignIn({ link: form.link, _csrf: form.csrf }, [...cookies, ...cookiesSet(opened)]);
}

/** A fresh link for the account, confirmed: the new session's id. */
async function signIn(accountId = ACCOUNT_A): Promise<string> {
  const res = await confirm(await world.link(accountId));
  assert.equal(res.statusCode, 303);
  const id = sessionFrom(res.headers['set-cookie']);
  assert.ok(id, 'a session cookie is set');
  return id;
}

describe('the web UI in Chromium', { timeout: 120_000 }, () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Every Content-Security-Policy violation Chromium reports on any page. */
  const violations: string[] = [];
  const shot = (name: string) => page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
  const watch = (p: Page) =>
    p.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    page = await context.newPage();
    watch(page);
  });
  after(async () => {
    await browser?.close();
  });

  test('October is finalized through the real billing for both accounts', () => {
    assert.equal(world.october.finalized, 2);
  });

  test('opening the sign-in link shows a page naming the account, and signs nothing in until the customer confirms', async () => {
    const res = await page.goto(`${world.base}/signin?link=${encodeURIComponent(await world.link(ACCOUNT_A))}`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.locator('h1').innerText(), `Sign in as ${ACCOUNT_A}?`);
    assert.deepEqual(
      (await context.cookies()).map((c) => c.name),
      ['vault_session_signin'],
      'only the sign-in form cookie: no session yet',
    );
    await shot('00-sign-in-confirm');
  });

  test('confirming opens an HttpOnly SameSite=Lax session and lands on /invoices without the link in the address', async () => {
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT_A}` }).click();
    await page.waitForURL(`${world.base}/invoices`);
    const [cookie, ...others] = await context.cookies();
    assert.equal(others.length, 0, 'the sign-in form cookie is cleared');
    assert.equal(cookie?.name, 'vault_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Lax');
    assert.equal(cookie?.path, '/');
    const res = await page.goto(`${world.base}/invoices`);
    assert.equal(res?.status(), 200);
    assert.equal(res?.headers()['content-security-policy'], CSP);
    assert.equal(res?.headers()['cache-control'], 'no-store');
  });

  test("pages render styled from the app's stylesheet file: the CSP has no 'unsafe-inline', and Chromium reports no violation", async () => {
    assert.ok(!CSP.includes('unsafe-inline'));
    assert.equal(await page.locator('link[rel=stylesheet]').getAttribute('href'), STYLESHEET.href);
    assert.equal(await page.locator('style, [style]').count(), 0, 'no inline style');
    const styles = await page.evaluate(() => {
      const header = getComputedStyle(document.querySelector('header')!);
      const card = getComputedStyle(document.querySelector('.card')!);
      return { header: header.backgroundColor, card: card.backgroundColor, radius: card.borderTopLeftRadius };
    });
    assert.deepEqual(styles, { header: 'rgb(63, 58, 109)', card: 'rgb(255, 255, 255)', radius: '6px' });
    assert.deepEqual(violations, []);
    await shot('01-invoices');
  });

  test('the invoice list shows the finalized invoice with number, period, status and total, and links to current usage', async () => {
    const { invoices } = await api<{ invoices: Invoice[] }>(`/v1/accounts/${ACCOUNT_A}/invoices`, world.tokenA);
    assert.equal(invoices.length, 1);
    const row = page.locator('tbody tr');
    assert.equal(await row.count(), 1);
    const cells = await row.first().locator('td').allInnerTexts();
    assert.deepEqual(cells, [invoices[0]!.number, 'October 2026', 'finalized', money(invoices[0]!.total)]);
    assert.equal(await page.getByRole('link', { name: 'see current usage' }).getAttribute('href'), '/usage');
  });

  test("the invoice page groups lines by app, and its total equals the API's total ($52.58)", async () => {
    const { invoices } = await api<{ invoices: Invoice[] }>(`/v1/accounts/${ACCOUNT_A}/invoices`, world.tokenA);
    const fromApi = await api<Invoice>(`/v1/invoices/${invoices[0]!.id}`, world.tokenA);
    await page.getByRole('link', { name: fromApi.number! }).click();
    assert.equal(page.url(), `${world.base}/invoices/${fromApi.id}`);
    assert.deepEqual(await page.locator('section.app h2').allInnerTexts(), ['shop-db', 'shop-web']);
    const rows = await page
      .locator('tr.line')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim())));
    assert.deepEqual(
      rows,
      fromApi.lines.map((l) => [l.description, l.quantity, money(l.unit_price), money(l.amount)]),
    );
    assert.ok(
      rows.every((r) => /^\d+\.\d{7}$/.test(r[1]!)),
      'months with 7 decimals',
    );
    const shown = (await page.locator('.total [data-total]').innerText()).trim();
    assert.equal(shown, money(fromApi.total));
    assert.equal(shown, '$52.58');
    await shot('02-invoice');
  });

  test('current usage shows the draft by app, an SVG bar per day with titles, and the projected month-end amount', async () => {
    await page.getByRole('link', { name: 'Current usage' }).click();
    assert.equal(page.url(), `${world.base}/usage`);
    const chart = page.locator('svg.chart');
    assert.equal(await chart.getAttribute('role'), 'img');
    assert.equal(await chart.locator('title').first().textContent(), 'Usage per day, November 2026');
    const days = await world.billing.usagePerDay(ACCOUNT_A);
    const bars = await chart.locator('rect.bar title').allTextContents();
    assert.equal(bars.length, 20, 'November 1st to the 20th (now)');
    assert.deepEqual(
      bars,
      days.map((d) => `${d.day}: ${money(d.amount)}`),
    );
    const projection = await world.billing.projection(ACCOUNT_A);
    assert.equal(projection.total, '30.00');
    assert.equal(await page.locator('[data-projection]').innerText(), '$30.00');
    const draft = await api<Invoice>(`/v1/accounts/${ACCOUNT_A}/usage`, world.tokenA);
    assert.equal(await page.locator('p.projection [data-total]').innerText(), money(draft.total));
    assert.deepEqual(await page.locator('section.app h2').allInnerTexts(), ['shop-db', 'shop-web']);
    await shot('03-usage');
  });

  test("another account's invoice answers the same 404 page as an id that does not exist", async () => {
    const [other] = await world.billing.invoices(ACCOUNT_B);
    assert.ok(other, 'account B has an October invoice');
    const res = await page.goto(`${world.base}/invoices/${other.id}`);
    assert.equal(res?.status(), 404);
    const text = await page.locator('main').innerText();
    assert.ok(!text.includes(other.number!) && !text.includes(ACCOUNT_B), 'nothing of the other invoice shows');
    await shot('04-not-found');
    const unknown = await page.goto(`${world.base}/invoices/in_000000000000000000000000`);
    assert.equal(unknown?.status(), 404);
    assert.equal(await page.locator('main').innerText(), text);
  });

  test('previewing October shows its invoice link, and the past month has no projection', async () => {
    await page.goto(`${world.base}/usage?period=2026-10`);
    assert.equal(await page.locator('h1').innerText(), 'Usage — October 2026 finalized');
    assert.equal(await page.locator('[data-projection]').count(), 0);
    assert.equal(await page.locator('svg.chart rect.bar').count(), 31);
    await shot('05-usage-october');
  });

  test('opening another account’s link while signed in changes nothing until confirmed; the page names that account', async () => {
    const before = (await context.cookies())[0]!;
    const linkB = await world.link(ACCOUNT_B);
    await page.goto(`${world.base}/signin?link=${encodeURIComponent(linkB)}`);
    assert.equal(await page.locator('h1').innerText(), `Sign in as ${ACCOUNT_B}?`);
    assert.match(await page.locator('main').innerText(), new RegExp(`You are signed in as ${ACCOUNT_A} now`));
    await shot('08-sign-in-as-another-account');
    const session = (await context.cookies()).find((c) => c.name === 'vault_session');
    assert.equal(session?.value, before.value, 'the session cookie is unchanged');
    const tab = await context.newPage();
    await tab.goto(`${world.base}/invoices`);
    assert.equal(await tab.locator('header .account').innerText(), ACCOUNT_A, 'still signed in as A');
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT_B}` }).click();
    await page.waitForURL(`${world.base}/invoices`);
    assert.equal(await page.locator('header .account').innerText(), ACCOUNT_B);
    const after = (await context.cookies()).find((c) => c.name === 'vault_session')!;
    assert.notEqual(after.value, before.value, 'a fresh session id');
    assert.equal((await get('/invoices', before.value)).statusCode, 303, "A's session is closed");
    await tab.reload();
    assert.equal(await tab.locator('header .account').innerText(), ACCOUNT_B);
    await tab.close();

    const again = await page.goto(`${world.base}/signin?link=${encodeURIComponent(linkB)}`);
    assert.equal(again?.status(), 401, 'the link was used');
    assert.match(await page.locator('main').innerText(), ASK_FOR_A_NEW_LINK);
    await shot('09-sign-in-link-used');
    assert.deepEqual(violations, []);
  });

  test('signing out ends the session: pages redirect to / again', async () => {
    const id = (await context.cookies())[0]!.value;
    await page.goto(`${world.base}/invoices`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${world.base}/`);
    assert.deepEqual(await context.cookies(), []);
    const res = await get('/invoices', id);
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/');
  });

  test("late October usage shows on November's usage as an adjustment line naming October, and unpriced usage is listed as a hold", async () => {
    await seedUsage(world.db.pool, [
      // After October was finalized: one more day of a basic dyno ($0.23).
      { app: 'blog', kind: 'dyno', key: 'worker.1', product: 'dyno:basic', from: '2026-10-25T00:00:00Z', to: '2026-10-26T00:00:00Z' },
      { app: 'blog', kind: 'addon', key: 'addon-x1', product: 'addon:mystery:plan', from: '2026-11-10T00:00:00Z' },
    ]);
    const other = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const p = await other.newPage();
    await p.goto(`${world.base}/signin?link=${encodeURIComponent(await world.link(ACCOUNT_B))}`);
    await p.getByRole('button', { name: `Sign in as ${ACCOUNT_B}` }).click();
    await p.waitForURL(`${world.base}/invoices`);
    await p.goto(`${world.base}/usage`);
    const draft = await api<Invoice>(`/v1/accounts/${ACCOUNT_B}/usage`, world.tokenB);
    const adjustment = draft.lines.find((l) => l.kind === 'adjustment');
    assert.equal(adjustment?.adjusts, '2026-10');
    assert.equal(adjustment?.amount, '0.23');
    const row = p.locator('tr.line-adjustment');
    assert.equal(await row.count(), 1);
    assert.equal(await row.locator('.tag').innerText(), 'adjusts October 2026');
    assert.equal(await row.locator('td.amount').innerText(), '$0.23');
    const holds = await p.locator('section.holds li').allInnerTexts();
    assert.equal(holds.length, 1);
    assert.match(holds[0]!, /^blog: a product has no price yet/);
    assert.equal(await p.locator('tr.line-addon td.amount').innerText(), '—');
    await p.screenshot({ path: `${SCREENSHOTS}07-usage-adjustment-and-hold.png`, fullPage: true });
    await other.close();
  });

  test('without a session cookie a page redirects to /, which says how to sign in', async () => {
    const fresh = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const p = await fresh.newPage();
    await p.goto(`${world.base}/invoices`);
    assert.equal(p.url(), `${world.base}/`);
    const text = await p.locator('main').innerText();
    assert.match(text, /open the sign-in link you were given/);
    assert.match(text, ASK_FOR_A_NEW_LINK);
    assert.doesNotMatch(text, /vault |token/, 'customer wording, no operator commands');
    await p.screenshot({ path: `${SCREENSHOTS}06-signed-out.png`, fullPage: true });
    await fresh.close();
  });
});

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
});

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
    }
  });

  test('the stylesheet is a file of the app under its content hash, text/css, cached for a year', async () => {
    const res = await get(STYLESHEET.href);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/css/);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(STYLESHEET.href, `/assets/app.${createHash('sha256').update(res.body).digest('hex').slice(0, 16)}.css`);
    assert.match(res.body, /header\{background:#3f3a6d/);
    assert.match((await get('/')).body, new RegExp(`<link rel="stylesheet" href="${STYLESHEET.href.replace(/\./g, '\\.')}">`));
    assert.equal((await get('/assets/app.css')).statusCode, 401, 'no other address serves it (outside the web routes: the API answers)');
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

describe('behind a proxy that ends TLS', () => {
  /** The same app built with TRUST_PROXY's setting (as main.ts passes it to fastify). */
  async function app(trustProxy: boolean | string[]) {
    const http = createHttpApp(memoryLogger({ app: 'invoicing' }), { trustProxy });
    invoicingRoutes(http, {
      pool: world.db.pool,
      billing: world.billing,
      prices: loadPriceBook(),
      adminToken: world.adminToken,
      log: world.log,
    });
    await http.ready();
    return http;
  }
  const viaProxy = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };

  test('trusted (TRUST_PROXY): the session cookie is __Host-vault_session; Secure, only it is read, and answers carry Strict-Transport-Security', async () => {
    const http = await app(true);
    try {
      const link = await world.link(ACCOUNT_A);
      const opened = await http.inject({ method: 'GET', url: `/signin?link=${encodeURIComponent(link)}`, headers: viaProxy });
      assert.equal(opened.headers['strict-transport-security'], 'max-age=31536000');
      assert.match(
        String(opened.headers['set-cookie']),
        /^__Host-vault_session_signin=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=900; Secure$/,
      );
      const res = await http.inject({
        method: 'POST',
        url: '/signin',
        headers: { ...viaProxy, cookie: cookiesSet(opened).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ link, _csrf: signInForm(opened.body).csrf }).toString(),
      });
      assert.equal(res.statusCode, 303);
      const cookies = [res.headers['set-cookie']].flat().map(String);
      const session = cookies.find((c) => c.startsWith('__Host-vault_session='));
      assert.match(session ?? '', /^__Host-vault_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/);
      assert.doesNotMatch(session!, /Domain=/i);
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
      const id = /^__Host-vault_session=([\w-]{43})/.exec(session!)![1]!;
      const page = await http.inject({ method: 'GET', url: '/invoices', headers: { ...viaProxy, cookie: `__Host-vault_session=${id}` } });
      assert.equal(page.statusCode, 200);
      assert.equal(page.headers['strict-transport-security'], 'max-age=31536000');
      const plain = await http.inject({ method: 'GET', url: '/invoices', headers: { ...viaProxy, cookie: `vault_session=${id}` } });
      assert.equal(plain.statusCode, 303, 'over https only the __Host- cookie counts');
      const api = await http.inject({ method: 'GET', url: '/health', headers: viaProxy });
      assert.equal(api.headers['strict-transport-security'], 'max-age=31536000', 'the API too');
      const direct = await http.inject({ method: 'GET', url: '/' });
      assert.equal(direct.headers['strict-transport-security'], undefined, 'plain http without the header');
    } finally {
      await http.close();
    }
  });

  test('trusted by address only: a proxy at another address is not believed', async () => {
    const http = await app(['10.9.8.7']);
    try {
      const res = await http.inject({ method: 'GET', url: '/', headers: viaProxy });
      assert.equal(res.headers['strict-transport-security'], undefined);
    } finally {
      await http.close();
    }
  });

  test('not trusted (TRUST_PROXY unset): X-Forwarded-Proto: https changes nothing', async () => {
    const link = await world.link(ACCOUNT_A);
    const opened = await world.http.inject({ method: 'GET', url: `/signin?link=${encodeURIComponent(link)}`, headers: viaProxy });
    assert.equal(opened.headers['strict-transport-security'], undefined);
    const res = await world.http.inject({
      method: 'POST',
      url: '/signin',
      headers: { ...viaProxy, cookie: cookiesSet(opened).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ link, _csrf: signInForm(opened.body).csrf }).toString(),
    });
    assert.equal(res.statusCode, 303);
    assert.match(String(res.headers['set-cookie']), /^vault_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200,/);
    assert.doesNotMatch(String(res.headers['set-cookie']), /Secure|__Host-/);
    assert.equal(res.headers['strict-transport-security'], undefined);
  });
});

describe('html helpers', () => {
  test('every interpolated value is escaped; markup made by html is kept', () => {
    const name = `<script>alert("x")</script>&'`;
    assert.equal(html`<p title="${name}">${name}</p>`.toString(), `<p title="${escapeHtml(name)}">${escapeHtml(name)}</p>`);
    assert.equal(escapeHtml(name), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    assert.equal(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.toString(), '<ul><li>a&lt;</li><li>b</li></ul>');
  });

  test('money is shown from decimal strings: $25.00, -$3.61 for a credit, thousands grouped, no price as a dash', () => {
    const cases: [string | null, string][] = [
      ['25.00', '$25.00'],
      ['0.00', '$0.00'],
      ['-3.61', '-$3.61'],
      ['1234567.05', '$1,234,567.05'],
      ['123.45', '$123.45'],
      [null, '—'],
    ];
    for (const [amount, shown] of cases) assert.equal(money(amount), shown);
    assert.equal(money('25.00', 'EUR'), 'EUR 25.00');
    assert.throws(() => money('25.5'), /not a money amount/);
  });
});
