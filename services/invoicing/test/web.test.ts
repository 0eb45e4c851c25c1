// The customer's web UI end to end: a real invoicing app over a real database
// and the real billing, driven by a real Chromium; then the session rules
// through http.inject.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Invoice } from '@vault/contracts';
import { escapeHtml, html } from '@vault/web';
import { money } from '../src/web/html.ts';
import { seedUsage } from './seed.ts';
import { ACCOUNT_A, ACCOUNT_B, sessionFrom, webWorld, type WebWorld } from './web-fixture.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../../test-results/screenshots/', import.meta.url));
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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

async function signIn(token: string): Promise<string> {
  const res = await world.http.inject({ method: 'GET', url: `/signin?token=${encodeURIComponent(token)}` });
  assert.equal(res.statusCode, 303);
  const id = sessionFrom(res.headers['set-cookie']);
  assert.ok(id, 'a session cookie is set');
  return id;
}

const get = (url: string, session?: string) =>
  world.http.inject({ method: 'GET', url, headers: session ? { cookie: `vault_session=${session}` } : {} });

describe('the web UI in Chromium', { timeout: 120_000 }, () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
  });

  test('October is finalized through the real billing for both accounts', () => {
    assert.equal(world.october.finalized, 2);
  });

  test('the sign-in link opens an HttpOnly SameSite=Lax session and lands on /invoices without the token in the address', async () => {
    const res = await page.goto(`${world.base}/signin?token=${encodeURIComponent(world.tokenA)}`);
    assert.equal(page.url(), `${world.base}/invoices`);
    assert.equal(res?.status(), 200);
    const [cookie, ...others] = await context.cookies();
    assert.equal(others.length, 0);
    assert.equal(cookie?.name, 'vault_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Lax');
    assert.equal(cookie?.path, '/');
    assert.equal(res?.headers()['content-security-policy'], CSP);
    assert.equal(res?.headers()['cache-control'], 'no-store');
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
    await p.goto(`${world.base}/signin?token=${encodeURIComponent(world.tokenB)}`);
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
    assert.match(text, /vault token create --account/);
    assert.match(text, /\/signin\?token=/);
    await p.screenshot({ path: `${SCREENSHOTS}06-signed-out.png`, fullPage: true });
    await fresh.close();
  });
});

describe('web sessions', () => {
  test('an unknown token is refused with a 401 page and no session', async () => {
    const res = await get('/signin?token=vt_acct_not-a-real-token');
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /not valid/);
  });

  test('a finance token and the admin token are refused with a 401 page: the web UI is for one account', async () => {
    for (const token of [world.financeToken, world.adminToken]) {
      const res = await get(`/signin?token=${encodeURIComponent(token)}`);
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.match(res.body, /finance or operator token/);
    }
  });

  test('a sign-in link without a token is a 400 page', async () => {
    const res = await get('/signin');
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /no token/);
  });

  test('only the sha256 of the session id is stored, for 12 hours', async () => {
    const id = await signIn(world.tokenB);
    const { rows } = await world.db.pool.query<{ hash: string; account_id: string; hours: number }>(
      `select hash, account_id, extract(epoch from expires_at - created_at) / 3600 as hours
       from invoicing.sessions where hash = $1`,
      [createHash('sha256').update(id).digest('hex')],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.account_id, ACCOUNT_B);
    assert.equal(Number(rows[0]!.hours), 12);
    const stored = await world.db.pool.query('select 1 from invoicing.sessions where hash = $1', [id]);
    assert.equal(stored.rowCount, 0, 'the id itself is not stored');
  });

  test('a tampered session cookie is not signed in: redirect to / and the cookie is cleared', async () => {
    const id = await signIn(world.tokenA);
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
    const id = await signIn(world.tokenA);
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
    const id = await signIn(world.tokenA);
    const api = await get(`/v1/accounts/${ACCOUNT_A}/invoices`, id);
    assert.equal(api.statusCode, 401);
  });

  test('/ redirects a signed-in customer to /invoices and shows the sign-in help otherwise', async () => {
    const id = await signIn(world.tokenA);
    const signedIn = await get('/', id);
    assert.equal(signedIn.statusCode, 303);
    assert.equal(signedIn.headers.location, '/invoices');
    const signedOut = await get('/');
    assert.equal(signedOut.statusCode, 200);
    assert.match(signedOut.body, /vault token create --account/);
  });

  test('every web page and redirect carries the CSP, no-store, nosniff, DENY and no-referrer headers', async () => {
    const id = await signIn(world.tokenA);
    const [invoice] = await world.billing.invoices(ACCOUNT_A);
    for (const [url, session, status] of [
      ['/', undefined, 200],
      ['/signin?token=nope', undefined, 401],
      ['/invoices', id, 200],
      [`/invoices/${invoice!.id}`, id, 200],
      ['/invoices/unknown', id, 404],
      ['/usage', id, 200],
      ['/usage?period=2026-13', id, 400],
      ['/signout', id, 200],
      ['/invoices', undefined, 303],
    ] as const) {
      const res = await get(url, session);
      assert.equal(res.statusCode, status, url);
      assert.equal(res.headers['content-security-policy'], CSP, url);
      assert.equal(res.headers['cache-control'], 'no-store', url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'DENY', url);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
    }
  });

  test('a bad or future ?period is a 400 page naming the problem', async () => {
    const id = await signIn(world.tokenA);
    const bad = await get('/usage?period=2026-13', id);
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /period: must be a month as YYYY-MM/);
    const future = await get('/usage?period=2027-01', id);
    assert.equal(future.statusCode, 400);
    assert.match(future.body, /2027-01 has not started yet/);
  });

  test('POST /signout deletes the session row and clears the cookie', async () => {
    const id = await signIn(world.tokenA);
    const hash = createHash('sha256').update(id).digest('hex');
    const res = await world.http.inject({
      method: 'POST',
      url: '/signout',
      headers: { cookie: `vault_session=${id}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/');
    assert.match(String(res.headers['set-cookie']), /Max-Age=0/);
    const { rowCount } = await world.db.pool.query('select 1 from invoicing.sessions where hash = $1', [hash]);
    assert.equal(rowCount, 0);
  });

  test('sign-in tokens and session ids never reach the logs', async () => {
    const id = await signIn(world.tokenA);
    const lines = world.log.lines.join('\n');
    for (const secret of [world.tokenA, world.tokenB, world.financeToken, id]) assert.ok(!lines.includes(secret));
    assert.match(lines, /event=web.signin account_id=acct-web-a/);
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
