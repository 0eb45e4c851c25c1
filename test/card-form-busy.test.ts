// The card form when the database is busy, in a real Chromium with the gateway sandbox and cc-forms
// as processes (cc-forms' statement limit 300 ms): the setup intent's post is stopped behind a lock
// on cc_forms.sessions held by the test, and the alert shows the server's busy words (cc-forms'
// `{error: {code: database_busy, message}}`), not the form's generic "could not be saved".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually, freePort, freshDatabase, migrateApps, startService, type RunningService, type TestDatabase } from '@vault/testkit';
import { DATABASE_BUSY_MESSAGE, FALLBACK_MESSAGE } from '../services/cc-forms/src/domain/messages.ts';
import { accountToken, operatorLink } from './sign-in-fixture.ts';

const ACCOUNT = 'acct-card-busy';

let db: TestDatabase;
let sandbox: RunningService;
let ccForms: RunningService;
let browser: Browser;
let page: Page;

before(async () => {
  db = await freshDatabase('card_busy');
  await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
  const [gatewayPort, ccFormsPort] = [await freePort(), await freePort()];
  const env = {
    DATABASE_URL: db.url,
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_URL: `http://localhost:${gatewayPort}`,
    CC_FORMS_PORT: String(ccFormsPort),
    INVOICING_WEB_URL: 'http://billing.example.test',
    HOST: '127.0.0.1',
    ADMIN_TOKEN: 'card-busy-admin-token-0123456789abcdef0',
    DATABASE_STATEMENT_TIMEOUT_MS: '300',
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

describe('the card form when the database is busy (Chromium)', { timeout: 180_000 }, () => {
  test("the alert shows the server's busy words (503 database_busy), not the form's generic fallback", async () => {
    const link = await operatorLink(db.pool, ACCOUNT, await accountToken(db.pool, ACCOUNT));
    await page.goto(`${ccForms.url}/signin?link=${encodeURIComponent(link)}`);
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
    await page.waitForURL(`${ccForms.url}/card`);
    const frame = await (async () => {
      await eventually('the card iframe', () => page.frames().some((f) => f.url().startsWith(`${sandbox.url}/elements/card`)));
      const found = page.frames().find((f) => f.url().startsWith(`${sandbox.url}/elements/card`))!;
      await found.getByLabel('Card number').waitFor();
      return found;
    })();
    await frame.getByLabel('Card number').fill('4242 4242 4242 4242');
    await frame.getByLabel('Expiry').fill('12 / 34');
    await frame.getByLabel('CVC').fill('123');

    // The sessions table locked by a session of the test's own: the post's session lookup stops at the limit.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('begin');
    await holder.query('lock table cc_forms.sessions in access exclusive mode');
    try {
      const started = page.waitForResponse((res) => res.url() === `${ccForms.url}/card/setup-intents`);
      await page.getByRole('button', { name: 'Save card' }).click();
      const answer = await started;
      assert.equal(answer.status(), 503);
      assert.equal(answer.headers()['retry-after'], '5');
      const alert = page.getByRole('alert');
      await eventually('the alert', async () => (await alert.innerText()).length > 0);
      assert.equal(await alert.innerText(), DATABASE_BUSY_MESSAGE);
      assert.notEqual(await alert.innerText(), FALLBACK_MESSAGE);
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
  });
});
