// The invoice pages' hand-over to the card form, end to end: invoicing and
// cc-forms as real processes over one database, driven by a real Chromium (its
// cookie jar, its redirects). The card form session it opens ends no later than
// the invoice pages' session, goes with it at sign-out (either app's), and its link
// opens nothing in invoicing; opened while signed in to the card form, the link is used up.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
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
import { accountToken, operatorLink as signInLinkFor } from './sign-in-fixture.ts';

const ACCOUNT = 'acct-hand-over';

let db: TestDatabase;
let invoicing: RunningService;
let ccForms: RunningService;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let tokenId: string;

/** A sign-in link for the account, as `vault token create --account` makes one. */
const operatorLink = () => signInLinkFor(db.pool, ACCOUNT, tokenId);

const cookie = async (name: string) => (await context.cookies()).find((c) => c.name === name);
const handOvers = async () =>
  (await db.pool.query<{ used: boolean }>(`select used_at is not null as used from invoicing.sign_in_links where app = 'cc-forms'`)).rows;

before(async () => {
  db = await freshDatabase('hand_over');
  await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
  tokenId = await accountToken(db.pool, ACCOUNT);
  const [gatewayPort, ccFormsPort, invoicingPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    ADMIN_TOKEN: 'hand-over-admin-token-0123456789abcdef',
    GATEWAY_URL: `http://localhost:${gatewayPort}`,
    GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
    GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
    GATEWAY_WEBHOOK_SECRET: 'whsec_hand_over',
    CC_FORMS_PORT: String(ccFormsPort),
    CC_FORMS_URL: `http://localhost:${ccFormsPort}`,
    INVOICING_PORT: String(invoicingPort),
    INVOICING_WEB_URL: `http://localhost:${invoicingPort}`,
  };
  [ccForms, invoicing] = (await startServices([
    ['cc-forms', env],
    ['invoicing', env],
  ])) as [RunningService, RunningService];
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
  context = await browser.newContext();
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  await Promise.all([invoicing?.kill('SIGTERM'), ccForms?.kill('SIGTERM')]);
  await db?.drop();
});

describe('the hand-over from the invoice pages to the card form (both apps as processes, in Chromium)', { timeout: 120_000 }, () => {
  test('an hour before the invoice pages’ session ends, the hand-over signs in to the card form for that hour, not 12 more', async () => {
    await page.goto(`${invoicing.url}/signin?link=${encodeURIComponent(await operatorLink())}`);
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
    await page.waitForURL(`${invoicing.url}/invoices`);
    // Hour 11 of 12: the session and its cookie have an hour left.
    await db.pool.query(`update invoicing.sessions set expires_at = now() + interval '1 hour'`);
    await page.goto(`${invoicing.url}/card-form?to=card`);
    await page.waitForURL(new RegExp(`^${ccForms.url}/signin\\?link=vl_[\\w-]{43}&next=%2Fcard$`));
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
    await page.waitForURL(`${ccForms.url}/card`);
    const left = (await cookie('vault_card_session'))!.expires - Date.now() / 1000;
    assert.ok(left > 3500 && left <= 3600, `the card form cookie has ${left} s`);
    const { rows } = await db.pool.query<{ ok: boolean }>(
      `select c.expires_at <= i.expires_at and c.expires_at > i.expires_at - interval '1 second' as ok
         from cc_forms.sessions c, invoicing.sessions i`,
    );
    assert.deepEqual(rows, [{ ok: true }]);
  });

  test('signed in to the card form already, the hand-over goes straight on and its link is used up', async () => {
    await page.goto(`${invoicing.url}/card-form?to=card`);
    await page.waitForURL(`${ccForms.url}/card`);
    assert.deepEqual(await handOvers(), [{ used: true }, { used: true }]);
  });

  test('the session cookie alone (as a thief has it) gets a hand-over link that invoicing refuses', async () => {
    const stolen = `vault_session=${(await cookie('vault_session'))!.value}`;
    const handed = await fetch(`${invoicing.url}/card-form?to=card`, { headers: { cookie: stolen }, redirect: 'manual' });
    assert.equal(handed.status, 303);
    const link = new URL(handed.headers.get('location')!).searchParams.get('link')!;
    const opened = await fetch(`${invoicing.url}/signin?link=${encodeURIComponent(link)}`, { redirect: 'manual' });
    assert.equal(opened.status, 401);
    assert.match(await opened.text(), /This sign-in link cannot be used/);
  });

  test('signing out of the invoice pages signs the card form out too', async () => {
    await page.goto(`${ccForms.url}/card`);
    assert.equal(page.url(), `${ccForms.url}/card`);
    await page.goto(`${invoicing.url}/signout`);
    await page.getByRole('button', { name: `Sign out of ${ACCOUNT}` }).click();
    await page.waitForURL(`${invoicing.url}/`);
    await page.goto(`${ccForms.url}/card`);
    assert.equal(page.url(), `${ccForms.url}/`);
    assert.match(await page.locator('main').innerText(), /open the sign-in link you were given/);
  });

  test('signing out of the card form signs the invoice pages out too (a shared computer)', async () => {
    await page.goto(`${invoicing.url}/signin?link=${encodeURIComponent(await operatorLink())}`);
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
    await page.waitForURL(`${invoicing.url}/invoices`);
    await page.goto(`${invoicing.url}/card-form?to=card`);
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
    await page.waitForURL(`${ccForms.url}/card`);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(`${ccForms.url}/`);
    await page.goto(`${invoicing.url}/invoices`);
    assert.equal(page.url(), `${invoicing.url}/`, 'the invoice pages ask for a sign-in link again');
    assert.match(await page.locator('main').innerText(), /open the sign-in link you were given/);
    await page.goto(`${invoicing.url}/card-form?to=card`);
    assert.equal(page.url(), `${invoicing.url}/`, 'and make no card form link');
  });
});
