// The hand-over to the card form's authenticate page when the two apps are on
// different sites (invoice pages at localhost, card form at 127.0.0.1), both as
// processes, driven by a real Chromium: what Sec-Fetch-Site the browser really
// sends on each step. A navigation another site starts reaches no gateway (the
// card form's continue page); every step of the customer's own way still gets there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import {
  freePort,
  freshDatabase,
  migrateApps,
  startServices,
  TEST_GATEWAY_PUBLISHABLE_KEY,
  TEST_GATEWAY_SECRET_KEY,
  type RunningService,
  type TestDatabase,
} from '@vault/testkit';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkPage } from '../packages/web/test/page-checks.ts';
import { accountToken, operatorLink } from './sign-in-fixture.ts';

const SCREENSHOTS = fileURLToPath(new URL('../test-results/screenshots/', import.meta.url));

const ACCOUNT = 'acct-cross-site';
/** No such PaymentIntent (the account has no gateway customer): looked up, the card form's 404 page. */
const PAYMENT = '/payments/pi_CrossSite0000000000000001';

let db: TestDatabase;
let services: RunningService[] = [];
let browser: Browser;
let page: Page;
let tokenId: string;
let invoicesUrl: string;
let cardFormUrl: string;

const heading = () => page.locator('h1').innerText();

/** Follows the invoice page's link to the card form, as the customer clicks it on an invoice page. */
async function followCardFormLink(): Promise<void> {
  await page.goto(`${invoicesUrl}/invoices`);
  await page.evaluate(
    (href) => {
      const a = document.createElement('a');
      a.href = href;
      document.body.append(a);
      a.click();
    },
    `/card-form?to=${PAYMENT.slice(1)}`,
  );
}

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  db = await freshDatabase('cross_site');
  await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
  tokenId = await accountToken(db.pool, ACCOUNT);
  const [gatewayPort, ccFormsPort, invoicingPort] = [await freePort(), await freePort(), await freePort()];
  // Both listen on 127.0.0.1; localhost and 127.0.0.1 are different sites to the browser.
  invoicesUrl = `http://localhost:${invoicingPort}`;
  cardFormUrl = `http://127.0.0.1:${ccFormsPort}`;
  const env = {
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    ADMIN_TOKEN: 'cross-site-admin-token-0123456789abcdef',
    GATEWAY_URL: `http://localhost:${gatewayPort}`,
    GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
    GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
    GATEWAY_WEBHOOK_SECRET: 'whsec_cross_site',
    CC_FORMS_PORT: String(ccFormsPort),
    CC_FORMS_URL: cardFormUrl,
    INVOICING_PORT: String(invoicingPort),
    INVOICING_WEB_URL: invoicesUrl,
  };
  services = await startServices([
    ['cc-forms', env],
    ['invoicing', env],
  ]);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
  page = await (await browser.newContext()).newPage();
  await page.goto(`${invoicesUrl}/signin?link=${encodeURIComponent(await operatorLink(db.pool, ACCOUNT, tokenId))}`);
  await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
  await page.waitForURL(`${invoicesUrl}/invoices`);
});

after(async () => {
  await browser?.close();
  await Promise.all(services.map((s) => s.kill('SIGTERM')));
  await db?.drop();
});

describe('the hand-over to the authenticate page across sites (invoice pages and card form as processes, in Chromium)', {
  timeout: 120_000,
}, () => {
  test('not signed in to the card form: the sign-in button lands on the payment, looked up at once', async () => {
    await followCardFormLink();
    await page.waitForURL(new RegExp(`^${cardFormUrl}/signin\\?link=vl_[\\w-]{43}&next=`));
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
    await page.waitForURL(`${cardFormUrl}${PAYMENT}`);
    assert.equal(await heading(), 'Not found', 'looked up: no such payment for the account');
  });

  test('signed in to the card form already: the straight-on hand-over is cross-site, so the continue page, whose button looks it up', async () => {
    await followCardFormLink();
    await page.waitForURL(`${cardFormUrl}${PAYMENT}`);
    assert.equal(await heading(), 'Continue to your payment');
    await checkPage(page, SCREENSHOTS, 'card-form-continue-to-payment');
    await page.getByRole('button', { name: 'Continue to the payment' }).click();
    await page.waitForURL(`${cardFormUrl}${PAYMENT}?`);
    assert.equal(await heading(), 'Not found');
  });

  test('typed or bookmarked, and reloaded: the payment, looked up', async () => {
    await page.goto(`${cardFormUrl}${PAYMENT}`);
    assert.equal(await heading(), 'Not found');
    await page.reload();
    assert.equal(await heading(), 'Not found');
  });

  test('another site’s page navigating the browser there gets the continue page (no lookup)', async () => {
    await page.goto(`${invoicesUrl}/`);
    // A page of another site (here the invoice pages' origin stands in for it) sends the browser there.
    await page.evaluate((href) => {
      location.href = href;
    }, `${cardFormUrl}${PAYMENT}`);
    await page.waitForURL(`${cardFormUrl}${PAYMENT}`);
    assert.equal(await heading(), 'Continue to your payment');
  });
});
