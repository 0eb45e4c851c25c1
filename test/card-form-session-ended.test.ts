// The card form's session ends between the setup intent and saving the card (a
// 12-hour session running out, a hand-over's end, or signing out in another
// tab), in a real Chromium with the gateway sandbox and cc-forms as processes.
// The alert must say the card was NOT saved and give the real way back, a link
// to the invoice pages: a sign-in link works once, and "open your sign-in link
// again" sent the customer in a loop. The card on file stays what it was. The
// pay page alike: nothing was charged, and a link back to the invoice.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { gatewayClient, sandboxKeys } from '@vault/gateway';
import { eventually, freePort, freshDatabase, migrateApps, startService, type RunningService, type TestDatabase } from '@vault/testkit';
import { accountToken, operatorLink } from './sign-in-fixture.ts';

const ACCOUNT = 'acct-session-ends';
/** Where the card form sends the customer back: invoicing's pages (not running here: only the link is checked). */
const INVOICING_WEB_URL = 'http://billing.example.test';

let db: TestDatabase;
let sandbox: RunningService;
let ccForms: RunningService;
let browser: Browser;
let page: Page;

before(async () => {
  db = await freshDatabase('session_ends');
  await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
  const [gatewayPort, ccFormsPort] = [await freePort(), await freePort()];
  const env = {
    DATABASE_URL: db.url,
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_URL: `http://localhost:${gatewayPort}`,
    CC_FORMS_PORT: String(ccFormsPort),
    INVOICING_WEB_URL,
    HOST: '127.0.0.1',
    ADMIN_TOKEN: 'session-ends-admin-token-0123456789abcdef',
  };
  sandbox = await startService('gateway-sandbox', env);
  ccForms = await startService('cc-forms', env);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  page = await (await browser.newContext()).newPage();
});

after(async () => {
  await browser?.close();
  await ccForms?.kill('SIGTERM');
  await sandbox?.kill('SIGTERM');
  await db?.drop();
});

async function cardFrame(): Promise<Frame> {
  let frame: Frame | undefined;
  await eventually('the card iframe', () => {
    frame = page.frames().find((f) => f.url().startsWith(`${sandbox.url}/elements/card`));
    return frame !== undefined;
  });
  await frame!.getByLabel('Card number').waitFor();
  return frame!;
}

async function typeCard(number: string) {
  const frame = await cardFrame();
  await frame.getByLabel('Card number').fill(number.replace(/(\d{4})(?=\d)/g, '$1 '));
  await frame.getByLabel('Expiry').fill('12 / 34');
  await frame.getByLabel('CVC').fill('123');
}

const storedCard = async () =>
  (
    await db.pool.query<{ last4: string; payment_method_id: string; customer_id: string }>(
      'select last4, payment_method_id, customer_id from cc_forms.cards_on_file where account_id = $1',
      [ACCOUNT],
    )
  ).rows[0];

async function signIn() {
  const link = await operatorLink(db.pool, ACCOUNT, await accountToken(db.pool, ACCOUNT));
  await page.goto(`${ccForms.url}/signin?link=${encodeURIComponent(link)}`);
  await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
  await page.waitForURL(`${ccForms.url}/card`);
}

/** Ends the account's card form sessions as the request goes out (its cookie and token still those of a live session). */
const endSessionOn = (url: string) =>
  page.route(url, async (route) => {
    if (route.request().method() === 'POST') await db.pool.query('delete from cc_forms.sessions where account_id = $1', [ACCOUNT]);
    await route.continue();
  });

describe('the card form when the session ends before the card is saved (Chromium)', { timeout: 180_000 }, () => {
  test('the alert says the card was not saved and links to the invoice pages; the card on file is unchanged', async () => {
    await signIn();
    await typeCard('4242424242424242');
    await page.getByRole('button', { name: 'Save card' }).click();
    await eventually('the first card saved', async () => /Card saved: Visa •••• 4242/.test(await page.getByRole('status').innerText()));
    const before = await storedCard();
    assert.equal(before?.last4, '4242');

    // The session ends after the gateway confirmed the setup intent, before cc-forms is told to save it.
    await endSessionOn(`${ccForms.url}/card`);
    await typeCard('5555555555554444');
    const saved = page.waitForResponse((res) => res.url() === `${ccForms.url}/card` && res.request().method() === 'POST');
    await page.getByRole('button', { name: 'Save card' }).click();
    assert.equal((await saved).status(), 401);

    const alert = page.getByRole('alert');
    await eventually('the alert', async () => /session ended/.test(await alert.innerText()));
    const text = await alert.innerText();
    assert.match(text, /Your session ended before your card was saved, so it was not saved\./);
    assert.match(
      text,
      /Go back to your invoices and open the card form from there, or ask your account's administrator for a new sign-in link\./,
    );
    assert.doesNotMatch(text, /sign-in link again/);
    assert.equal(await alert.getByRole('link', { name: 'your invoices' }).getAttribute('href'), `${INVOICING_WEB_URL}/invoices`);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'card-errors', 'the alert has the focus');
    assert.equal(await page.getByRole('status').innerText(), '', 'no "Checking your card…" left behind');
    assert.deepEqual(await storedCard(), before, 'the card on file is unchanged');
  });

  test('the pay page alike: the alert says nothing was charged and links back to the invoice', async () => {
    const card = (await storedCard())!;
    const keys = await sandboxKeys(db.pool);
    const stripe = gatewayClient({ url: new URL(sandbox.url), secretKey: keys.secretKey });
    // An invoice's PaymentIntent waiting for the cardholder, as invoicing's charger leaves one.
    const intent = await stripe.paymentIntents.create({
      amount: 16583,
      currency: 'usd',
      customer: card.customer_id,
      payment_method: card.payment_method_id,
      metadata: { account_id: ACCOUNT, invoice_id: 'in_session_ends', number: '2026-11-000042' },
    });
    await signIn();
    await page.goto(`${ccForms.url}/payments/${intent.id}`);
    await endSessionOn(`${ccForms.url}/payments/${intent.id}/start`);
    const started = page.waitForResponse((res) => res.url().endsWith(`/payments/${intent.id}/start`));
    await page.getByRole('button', { name: /pay \$165\.83/ }).click();
    assert.equal((await started).status(), 401);
    const alert = page.getByRole('alert');
    await eventually('the alert', async () => /session ended/.test(await alert.innerText()));
    const text = await alert.innerText();
    assert.match(text, /Your session ended before the payment started, so nothing was charged\./);
    assert.match(
      text,
      /Go back to your invoice and open this payment from there, or ask your account's administrator for a new sign-in link\./,
    );
    assert.equal(
      await alert.getByRole('link', { name: 'your invoice' }).getAttribute('href'),
      `${INVOICING_WEB_URL}/invoices/in_session_ends`,
    );
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'pay-errors', 'the alert has the focus');
    assert.equal((await stripe.paymentIntents.retrieve(intent.id)).status, 'requires_confirmation', 'nothing was charged');
  });
});
