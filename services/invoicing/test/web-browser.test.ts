// The customer's web UI in a real Chromium: a real invoicing app over a real
// database and the real billing; screenshots in test-results/screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Invoice } from '@vault/contracts';
import { STYLESHEET } from '../src/web/assets.ts';
import { money } from '../src/web/html.ts';
import { checkPage } from '../../../packages/web/test/page-checks.ts';
import { seedStop, seedUsage } from './seed.ts';
import { ACCOUNT_A, ACCOUNT_B, webClient, webWorld, type WebWorld } from './web-fixture.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../../test-results/screenshots/', import.meta.url));

const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const ASK_FOR_A_NEW_LINK = /Please ask your account's administrator for a new sign-in link\./;

let _world: WebWorld;

let world: WebWorld;
before(async () => {
  // B's goodwill credit pays its October invoice: the credit figures show on its pages.
  world = await webWorld({ grants: [{ accountId: ACCOUNT_B, amount: '10.00' }] });
});
after(async () => {
  await world?.close();
});
const { api, get } = webClient(() => world);

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

  /** A new browser context signed in as the account (through its link's confirmation page). */
  async function signedInPage(accountId: string): Promise<{ p: Page; close(): Promise<void> }> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await ctx.newPage();
    watch(p);
    await p.goto(`${world.base}/signin?link=${encodeURIComponent(await world.link(accountId))}`);
    await p.getByRole('button', { name: `Sign in as ${accountId}` }).click();
    await p.waitForURL(`${world.base}/invoices`);
    return { p, close: () => ctx.close() };
  }

  test('the credit figures: the invoice shows subtotal, credit applied and the amount charged; the list shows the balance left', async () => {
    const { p, close } = await signedInPage(ACCOUNT_B);
    const [invoice] = await world.billing.invoices(ACCOUNT_B);
    const balance = await world.billing.balance(ACCOUNT_B);
    assert.equal(invoice!.credit_applied, invoice!.subtotal, 'the $10.00 grant pays the whole October invoice');
    assert.equal(invoice!.total, '0.00');
    assert.equal(await p.locator('[data-credit]').innerText(), money(balance.credit));
    assert.equal(Math.round(Number(balance.credit) * 100) + Math.round(Number(invoice!.credit_applied) * 100), 1000, 'the rest of $10.00');
    const cells = await p.locator('tbody tr').first().locator('td').allInnerTexts();
    assert.deepEqual(cells, [invoice!.number, 'October 2026', 'finalized', '$0.00']);
    await p.getByRole('link', { name: invoice!.number! }).click();
    assert.equal(await p.locator('[data-subtotal]').innerText(), money(invoice!.subtotal));
    assert.equal(await p.locator('[data-credit-applied]').innerText(), `-${money(invoice!.credit_applied)}`);
    assert.equal(await p.locator('.total [data-total]').innerText(), '$0.00');
    assert.match(await p.locator('section.payment').innerText(), /Nothing to pay: the amount charged is \$0\.00\./);
    await p.screenshot({ path: `${SCREENSHOTS}10-invoice-paid-by-credit.png`, fullPage: true });
    await close();
  });

  test('a late stop for October gives November a credit line saying the day web.1 stopped, from metering’s intervals', async () => {
    await seedStop(world.db.pool, 'shop-web', 'web.1', '2026-10-02T00:00:00Z');
    const { p, close } = await signedInPage(ACCOUNT_A);
    await p.goto(`${world.base}/usage`);
    const row = p.locator('tr.line-adjustment', { hasText: 'web.1' });
    assert.equal(await row.count(), 1);
    assert.match(await row.locator('td.amount').innerText(), /^-\$/);
    assert.equal(
      await row.locator('.why').innerText(),
      'web.1 stopped on Oct 2, earlier than billed on the October 2026 invoice (we learned of it after that invoice was issued): this gives the difference back.',
    );
    await p.screenshot({ path: `${SCREENSHOTS}11-usage-late-stop.png`, fullPage: true });
    await close();
  });

  test('every page works at 375 px and at 1280 px without sideways scrolling, and axe-core finds no violation on any', async () => {
    const { p, close } = await signedInPage(ACCOUNT_A);
    const [invoice] = await world.billing.invoices(ACCOUNT_A);
    const pages: [string, string, number][] = [
      ['/invoices', 'invoices', 200],
      [`/invoices/${invoice!.id}`, 'invoice', 200],
      ['/usage', 'usage', 200],
      ['/usage?period=2026-10', 'usage-october', 200],
      ['/signout', 'sign-out', 200],
      ['/invoices/in_unknown', 'not-found', 404],
      ['/usage?period=2026-13', 'bad-request', 400],
    ];
    for (const [path, name, status] of pages) {
      const res = await p.goto(world.base + path);
      assert.equal(res?.status(), status, path);
      await checkPage(p, SCREENSHOTS, `layout-${name}`);
    }
    // At 375 px the lines stack: the description gets the row's width, not a letter per line.
    await p.goto(`${world.base}/invoices/${invoice!.id}`);
    await p.setViewportSize({ width: 375, height: 800 });
    const widths = await p.locator('tr.line td.description').evaluateAll((tds) => tds.map((td) => td.getBoundingClientRect().width));
    assert.ok(widths.length > 0 && widths.every((w) => w > 250), `description widths at 375 px: ${widths.join(', ')}`);
    const lines = await p.locator('tr.line td.description').evaluateAll((tds) =>
      tds.map((td) => {
        const range = document.createRange();
        range.selectNodeContents(td.firstChild!);
        return [td.firstChild!.textContent!.length, range.getClientRects().length];
      }),
    );
    assert.ok(
      lines.every(([chars, rows]) => rows! <= Math.ceil(chars! / 20)),
      `a line of text per 20 characters at most (characters, lines): ${JSON.stringify(lines)}`,
    );
    await close();

    const signedOut = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const q = await signedOut.newPage();
    for (const [path, name, status] of [
      ['/', 'signed-out', 200],
      [`/signin?link=${encodeURIComponent(await world.link(ACCOUNT_A))}`, 'sign-in-confirm', 200],
      [`/signin?link=vl_${'A'.repeat(43)}`, 'sign-in-refused', 401],
      ['/signin', 'sign-in-without-link', 400],
    ] as const) {
      const res = await q.goto(world.base + path);
      assert.equal(res?.status(), status, path);
      await checkPage(q, SCREENSHOTS, `layout-${name}`);
    }
    const icon = await q.goto(`${world.base}/favicon.ico`);
    assert.equal(icon?.status(), 200);
    await signedOut.close();
    assert.deepEqual(violations, []);
  });
});
