// A card that needs 3-D Secure, end to end: the gateway sandbox, cc-forms and
// invoicing as real processes over a fresh database, driven by a real Chromium.
// The customer saves a 4000 0027 6000 3184 card in the card form (completing
// the bank's challenge); invoicing charges the invoice off-session, which the
// bank refuses until the cardholder authenticates: action_required. The customer
// signs in to the invoice pages, follows the invoice's link to cc-forms'
// authenticate page, completes the challenge, and the invoice is paid exactly
// once. Every page met on the way is checked at 375 and 1280 px and with axe-core.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { gatewayClient, sandboxKeys, type Gateway } from '@vault/gateway';
import {
  eventually,
  freePort,
  freshDatabase,
  migrateApps,
  startService,
  startServices,
  type RunningService,
  type TestDatabase,
} from '@vault/testkit';
import { accountToken, operatorLink } from './sign-in-fixture.ts';
import { checkPage } from '../packages/web/test/page-checks.ts';
import { insertInvoice } from './charging-harness.ts';

const SCREENSHOTS = fileURLToPath(new URL('../test-results/screenshots/', import.meta.url));
const ACCOUNT = 'acct-3ds';
const INVOICE = 'in_3ds_e2e_000000000000000001';
const CHALLENGE = 'iframe[title="3D Secure authentication"]';

let db: TestDatabase;
let sandbox: RunningService;
let ccForms: RunningService;
let invoicing: RunningService;
let sdk: Gateway;
let browser: Browser;
let page: Page;
let tokenId: string;

/** A sign-in link for the account, as `vault token create --account` makes one (works once, in either app). */
const signInLink = () => operatorLink(db.pool, ACCOUNT, tokenId);

/** Opens the link in the app and presses its button. */
async function signIn(app: RunningService, landing: string): Promise<void> {
  await page.goto(`${app.url}/signin?link=${encodeURIComponent(await signInLink())}`);
  await checkPage(page, SCREENSHOTS, `3ds-${landing}-sign-in`);
  await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
  await page.waitForURL(`${app.url}/${landing}`);
}

/** Clicks a button of the bank's challenge shown over the page, then waits for it to go. */
async function answerChallenge(button: 'Complete authentication' | 'Fail authentication'): Promise<void> {
  await page.frameLocator(CHALLENGE).getByRole('button', { name: button }).click();
  await page.locator(CHALLENGE).waitFor({ state: 'detached' });
}

const invoiceStatus = async () =>
  (await db.pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [INVOICE])).rows[0]?.status;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  db = await freshDatabase('authpay');
  await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
  tokenId = await accountToken(db.pool, ACCOUNT);
  const [gatewayPort, ccFormsPort, invoicingPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    ADMIN_TOKEN: 'authenticate-payment-admin-token-0123456789',
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_URL: `http://localhost:${gatewayPort}`,
    CC_FORMS_PORT: String(ccFormsPort),
    CC_FORMS_URL: `http://localhost:${ccFormsPort}`,
    INVOICING_PORT: String(invoicingPort),
    INVOICING_URL: `http://localhost:${invoicingPort}`,
    INVOICING_WEB_URL: `http://localhost:${invoicingPort}`,
    CHARGE_EVERY_SECONDS: '1',
  };
  sandbox = await startService('gateway-sandbox', env);
  [ccForms, invoicing] = (await startServices([
    ['cc-forms', env],
    ['invoicing', env],
  ])) as [RunningService, RunningService];
  sdk = gatewayClient({ url: new URL(sandbox.url), secretKey: (await sandboxKeys(db.pool)).secretKey });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
});

after(async () => {
  await browser?.close();
  await Promise.all([invoicing?.kill('SIGTERM'), ccForms?.kill('SIGTERM')]);
  await sandbox?.kill('SIGTERM');
  await db?.drop();
});

describe('a 3-D Secure card: the customer authenticates the invoice’s payment in Chromium', { timeout: 300_000 }, () => {
  test('a 4000 0027 6000 3184 card is put on file in the card form once the bank’s challenge is completed', async () => {
    await page.goto(`${ccForms.url}/`);
    await checkPage(page, SCREENSHOTS, '3ds-card-form-signed-out');
    await signIn(ccForms, 'card');
    const fields = page.frameLocator('iframe[title="Secure card payment input frame"]');
    await fields.getByLabel('Card number').fill('4000 0027 6000 3184');
    await fields.getByLabel('Expiry').fill('12 / 34');
    await fields.getByLabel('CVC').fill('123');
    await checkPage(page, SCREENSHOTS, '3ds-card-form');
    await page.getByRole('button', { name: 'Save card' }).click();
    await answerChallenge('Complete authentication');
    await eventually('the card saved', async () => /Card saved: Visa •••• 3184/.test(await page.getByRole('status').innerText()));
    const { rows } = await db.pool.query('select brand, last4 from cc_forms.cards_on_file where account_id = $1', [ACCOUNT]);
    assert.deepEqual(rows, [{ brand: 'visa', last4: '3184' }]);
  });

  test('charged off-session, the invoice waits for the cardholder (action_required), and nothing is charged', async () => {
    await insertInvoice(db.pool, { id: INVOICE, account: ACCOUNT, total: '52.58' });
    await eventually('the invoice waits for the cardholder', async () => (await invoiceStatus()) === 'action_required', 30_000);
    const { rows } = await db.pool.query<{ payment_intent_id: string }>(
      'select payment_intent_id from invoicing.charges where invoice_id = $1',
      [INVOICE],
    );
    const charges = await sdk.charges.list({ payment_intent: rows[0]!.payment_intent_id });
    assert.deepEqual(
      charges.data.map((c) => [c.status, c.failure_code]),
      [['failed', 'authentication_required']],
    );
  });

  test('the customer signs in to the invoice pages, reads why, and follows the invoice’s link to the authenticate page', async () => {
    await signIn(invoicing, 'invoices');
    await checkPage(page, SCREENSHOTS, '3ds-invoices');
    await page.goto(`${invoicing.url}/invoices/${INVOICE}`);
    const payment = page.locator('section.payment');
    assert.match(await payment.innerText(), /Your bank asks you to confirm this payment \(3-D Secure\)/);
    await checkPage(page, SCREENSHOTS, '3ds-invoice-action-required');
    // Not signed in to the card form (a sign-in link works once, in one app): the invoice page
    // hands the customer over with a fresh link, which asks once, then opens the page.
    await page.context().clearCookies({ name: 'vault_card_session' });
    await page.getByRole('link', { name: 'Authenticate and pay $52.58' }).click();
    await page.waitForURL(new RegExp(`^${ccForms.url}/signin\\?link=vl_[\\w-]+&next=%2Fpayments%2Fpi_`));
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
    await page.waitForURL(new RegExp(`^${ccForms.url}/payments/pi_`));
    assert.match(await page.locator('h1').innerText(), /^Pay invoice 2026-10-\d{6}$/);
    assert.match(await page.locator('main').innerText(), /confirm this payment of \$52\.58 .*Visa •••• 3184/s);
    await checkPage(page, SCREENSHOTS, '3ds-authenticate');
  });

  test('completing the bank’s challenge pays the invoice exactly once; the invoice page then says paid', async () => {
    const intentId = new URL(page.url()).pathname.split('/').pop()!;
    await page.getByRole('button', { name: 'Authenticate and pay $52.58' }).click();
    await answerChallenge('Complete authentication');
    await eventually('the page says paid', async () => /^Paid: thank you/.test(await page.getByRole('status').innerText()));
    await checkPage(page, SCREENSHOTS, '3ds-authenticate-paid');
    await eventually('invoicing records the payment', async () => (await invoiceStatus()) === 'paid', 30_000);
    const charges = await sdk.charges.list({ payment_intent: intentId });
    assert.deepEqual(charges.data.map((c) => c.status).sort(), ['failed', 'succeeded'], 'one refused off-session, one paid');
    const intents = await sdk.paymentIntents.list({ customer: (await sdk.paymentIntents.retrieve(intentId)).customer as string });
    assert.deepEqual(
      intents.data.map((pi) => [pi.id, pi.status]),
      [[intentId, 'succeeded']],
      'one PaymentIntent for the invoice',
    );
    await page.goto(`${invoicing.url}/invoices/${INVOICE}`);
    assert.match(await page.locator('section.payment').innerText(), /Paid on \w{3} \d{1,2}, \d{4}/);
    // The page again: nothing left to pay, no button.
    await page.goto(`${ccForms.url}/payments/${intentId}`);
    assert.match(await page.locator('main').innerText(), /Your payment of \$52\.58 was made\./);
    assert.equal(await page.getByRole('button', { name: /Authenticate and pay/ }).count(), 0);
  });

  test('the card form’s other pages pass too: not found, a refused link, and /favicon.ico answers an icon', async () => {
    const notFound = await page.goto(`${ccForms.url}/payments/pi_000000000000000000000000`);
    assert.equal(notFound?.status(), 404);
    await checkPage(page, SCREENSHOTS, '3ds-card-form-not-found');
    const refused = await page.goto(`${ccForms.url}/signin?link=vl_${'A'.repeat(43)}`);
    assert.equal(refused?.status(), 401);
    await checkPage(page, SCREENSHOTS, '3ds-card-form-link-refused');
    for (const app of [ccForms, invoicing]) {
      const icon = await page.goto(`${app.url}/favicon.ico`);
      assert.equal(icon?.status(), 200, app.url);
      assert.equal(icon?.headers()['content-type'], 'image/x-icon');
    }
  });
});
