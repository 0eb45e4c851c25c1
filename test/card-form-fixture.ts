// The card form end to end: the gateway sandbox and cc-forms as processes over a fresh
// database, and a page of a real Chromium; signing in there and typing a card into the
// sandbox's iframe, as a customer does.
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { eventually, freePort, freshDatabase, migrateApps, startService, type RunningService, type TestDatabase } from '@vault/testkit';
import { accountToken, operatorLink } from './sign-in-fixture.ts';

export interface CardForm {
  db: TestDatabase;
  sandbox: RunningService;
  ccForms: RunningService;
  browser: Browser;
  page: Page;
  /** Closes the browser, stops both apps, drops the database. */
  close(): Promise<void>;
}

/**
 * Starts the sandbox and cc-forms over a fresh database (`name`) with every app's migrations, and
 * opens a page. `env` adds to the apps' environment (INVOICING_WEB_URL, ADMIN_TOKEN, limits). What
 * started is stopped again when a later step fails.
 */
export async function startCardForm(
  name: string,
  env: { INVOICING_WEB_URL: string; ADMIN_TOKEN: string } & Record<string, string>,
): Promise<CardForm> {
  const started: Partial<CardForm> = {};
  const close = async () => {
    await started.browser?.close();
    await started.ccForms?.kill('SIGTERM');
    await started.sandbox?.kill('SIGTERM');
    await started.db?.drop();
  };
  try {
    const db = (started.db = await freshDatabase(name));
    await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
    const [gatewayPort, ccFormsPort] = [await freePort(), await freePort()];
    const appEnv = {
      DATABASE_URL: db.url,
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_URL: `http://localhost:${gatewayPort}`,
      CC_FORMS_PORT: String(ccFormsPort),
      HOST: '127.0.0.1',
      ...env,
    };
    const sandbox = (started.sandbox = await startService('gateway-sandbox', appEnv));
    const ccForms = (started.ccForms = await startService('cc-forms', appEnv));
    const browser = (started.browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    }));
    const page = await (await browser.newContext()).newPage();
    return { db, sandbox, ccForms, browser, page, close };
  } catch (error) {
    // The start's own error is the one to report, not a failure to clean up after it.
    await close().catch(() => undefined);
    throw error;
  }
}

/** Signs in with a fresh link of the account (its button pressed): the page is then on /card. */
export async function signInToCard({ db, ccForms, page }: CardForm, account: string): Promise<void> {
  const link = await operatorLink(db.pool, account, await accountToken(db.pool, account));
  await page.goto(`${ccForms.url}/signin?link=${encodeURIComponent(link)}`);
  await page.getByRole('button', { name: `Sign in as ${account}` }).click();
  await page.waitForURL(`${ccForms.url}/card`);
}

/** The sandbox's card iframe in the page, once its number field is there. */
async function cardFrame({ sandbox, page }: CardForm): Promise<Frame> {
  let frame: Frame | undefined;
  await eventually('the card iframe', () => {
    frame = page.frames().find((f) => f.url().startsWith(`${sandbox.url}/elements/card`));
    return frame !== undefined;
  });
  await frame!.getByLabel('Card number').waitFor();
  return frame!;
}

/** Types the card number (in groups of four, as the field shows it), an expiry and a CVC into the iframe. */
export async function typeCard(cardForm: CardForm, number: string): Promise<void> {
  const frame = await cardFrame(cardForm);
  await frame.getByLabel('Card number').fill(number.replace(/(\d{4})(?=\d)/g, '$1 '));
  await frame.getByLabel('Expiry').fill('12 / 34');
  await frame.getByLabel('CVC').fill('123');
}
