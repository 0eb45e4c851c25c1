// The card form end to end: the gateway sandbox and cc-forms as real
// processes over a fresh database, driven by a real Chromium. A customer signs
// in with the account's link, puts test cards on file through the gateway's
// iframe, and sees the helpful message of each failing one; then we check that
// no card number or CVC reached cc-forms, either process's logs, or any table.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Frame,
  type Locator,
  type Page,
  type Request,
  type Response,
} from 'playwright-core';
import { gatewayClient, sandboxKeys, type GatewayKeys } from '@vault/gateway';
import { eventually, freePort, freshDatabase, migrateApps, startService, type RunningService, type TestDatabase } from '@vault/testkit';
import { accountToken, operatorLink } from './sign-in-fixture.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOTS = `${root}test-results/screenshots/`;
const ACCOUNT = 'acct-card-form';
const ATTEMPTS_PER_HOUR = 8;
/** Distinctive, and checked only where it stands alone (not inside a longer number or id). */
const CVC = '964';
const CARDS = {
  visa: '4242424242424242',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
  incorrectCvc: '4000000000000127',
  expired: '4000000000000069',
  processingError: '4000000000000119',
  attachesThenFails: '4000000000000341',
  mastercard: '5555555555554444',
  mistyped: '4242424242424241',
};
const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
const spaced = (n: string) => n.replace(/(\d{4})(?=\d)/g, '$1 ');

let db: TestDatabase;
let sandbox: RunningService;
let ccForms: RunningService;
/** The sandbox's own keys: none configured, so it generated them, and cc-forms read them from its database. */
let keys: GatewayKeys;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** The sign-in link (its secret) the customer was given: issued with an account token, as `vault token create --account` does. */
let link: string;
/** Every request the browser sent to cc-forms' origin: URL, headers, body. */
const toCcForms: { url: string; headers: Record<string, string>; body: string }[] = [];

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  db = await freshDatabase('cardform');
  // cc-forms' schema first: invoicing's charging migrations may read cc_forms.cards_on_file.
  await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
  link = await operatorLink(db.pool, ACCOUNT, await accountToken(db.pool, ACCOUNT));
  const [gatewayPort, ccFormsPort] = [await freePort(), await freePort()];
  const env = {
    DATABASE_URL: db.url,
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_URL: `http://localhost:${gatewayPort}`,
    CC_FORMS_PORT: String(ccFormsPort),
    HOST: '127.0.0.1',
    ADMIN_TOKEN: 'card-form-admin-token-0123456789abcdef',
    CARD_ATTEMPTS_PER_HOUR: String(ATTEMPTS_PER_HOUR),
  };
  sandbox = await startService('gateway-sandbox', env);
  ccForms = await startService('cc-forms', env);
  keys = await sandboxKeys(db.pool);

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  // The top page keeps every message it receives, to check none carries card data.
  await context.addInitScript(() => {
    if (window.top !== window) return;
    const seen: string[] = [];
    (window as unknown as { __messages: string[] }).__messages = seen;
    window.addEventListener('message', (e) => seen.push(JSON.stringify(e.data)));
  });
  page = await context.newPage();
  const ccOrigin = new URL(ccForms.url).origin;
  page.on('request', (req: Request) => {
    if (new URL(req.url()).origin !== ccOrigin) return;
    void req.allHeaders().then((headers) => toCcForms.push({ url: req.url(), headers, body: req.postData() ?? '' }));
  });
});

after(async () => {
  await browser?.close();
  await ccForms?.kill('SIGTERM');
  await sandbox?.kill('SIGTERM');
  await db?.drop();
});

const shot = (name: string) => page.screenshot({ path: `${SCREENSHOTS}card-${name}.png`, fullPage: true });

/** The gateway's card iframe, once loaded. */
async function cardFrame(): Promise<Frame> {
  let frame: Frame | undefined;
  await eventually('the card iframe', () => {
    frame = page.frames().find((f) => f.url().startsWith(`${sandbox.url}/elements/card`));
    return frame !== undefined;
  });
  await frame!.getByLabel('Card number').waitFor();
  return frame!;
}

async function waitForText(locator: Locator, pattern: RegExp): Promise<string> {
  let text = '';
  await eventually(`text ${pattern} in ${locator}`, async () => pattern.test((text = await locator.innerText())), 20_000);
  return text;
}

const alertBox = () => page.getByRole('alert');
const onFile = () => page.locator('#card-on-file');

/** Types a card into the iframe and presses Save; resolves with cc-forms' answer to the setup-intents request. */
async function submitCard(number: string, options: { exp?: string; cvc?: string } = {}): Promise<Response> {
  const frame = await cardFrame();
  await frame.getByLabel('Card number').fill(spaced(number));
  await frame.getByLabel('Expiry').fill(options.exp ?? '12 / 34');
  await frame.getByLabel('CVC').fill(options.cvc ?? CVC);
  const answer = page.waitForResponse((res) => res.url().endsWith('/card/setup-intents'));
  await page.getByRole('button', { name: 'Save card' }).click();
  return answer;
}

async function storedCard() {
  const { rows } = await db.pool.query(`select * from cc_forms.cards_on_file where account_id = $1`, [ACCOUNT]);
  return rows[0] as
    | { payment_method_id: string; customer_id: string; brand: string; last4: string; exp_month: number; exp_year: number; added_at: Date }
    | undefined;
}

const attempts = async () =>
  Number((await db.pool.query(`select count(*) from cc_forms.card_attempts where account_id = $1`, [ACCOUNT])).rows[0].count);

describe('putting a card on file in Chromium', { timeout: 300_000 }, () => {
  test("the account's sign-in link asks first, naming the account; confirmed, it opens the card page with a CSP that allows only cc-forms and the gateway", async () => {
    const opened = await page.goto(`${ccForms.url}/signin?link=${encodeURIComponent(link)}`);
    assert.equal(opened?.status(), 200);
    assert.equal(await page.locator('h1').innerText(), `Sign in as ${ACCOUNT}?`);
    assert.deepEqual(
      (await context.cookies(ccForms.url)).map((c) => c.name),
      ['vault_card_session_signin'],
      'no session until confirmed',
    );
    assert.equal(
      await page.locator('header').evaluate((el) => getComputedStyle(el).backgroundColor),
      'rgb(63, 58, 109)',
      'styled from /static/card.css',
    );
    await shot('00-sign-in-confirm');
    await page.getByRole('button', { name: `Sign in as ${ACCOUNT}` }).click();
    await page.waitForURL(`${ccForms.url}/card`);
    const res = await page.goto(`${ccForms.url}/card`);
    assert.equal(res?.status(), 200);
    assert.doesNotMatch(res?.headers()['content-security-policy'] ?? '', /unsafe-inline/);
    const csp = res?.headers()['content-security-policy'] ?? '';
    const gateway = new URL(sandbox.url).origin;
    assert.match(csp, new RegExp(`script-src 'self' ${gateway};`));
    assert.match(csp, new RegExp(`frame-src 'self' ${gateway};`));
    assert.match(csp, new RegExp(`connect-src 'self' ${gateway};`));
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(await onFile().innerText(), /No card on file yet/);
    const [cookie, ...others] = await context.cookies(ccForms.url);
    assert.equal(others.length, 0, 'the sign-in form cookie is cleared');
    assert.equal(cookie?.name, 'vault_card_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Lax');
    await cardFrame();
    await shot('01-no-card');
  });

  test('the card fields are the gateway’s labelled iframe, reached with Tab; a Visa typed by keyboard alone is saved', async () => {
    const iframe = page.locator('iframe');
    assert.equal(await iframe.getAttribute('title'), 'Secure card payment input frame');
    const frame = await cardFrame();
    for (const [label, autocomplete] of [
      ['Card number', 'cc-number'],
      ['Expiry', 'cc-exp'],
      ['CVC', 'cc-csc'],
    ] as const) {
      assert.equal(await frame.getByLabel(label).getAttribute('autocomplete'), autocomplete, label);
    }
    assert.equal(
      await frame.getByLabel('Expiry').evaluate((input) => (input as HTMLInputElement).labels?.[0]?.textContent),
      'Expiry MM / YY',
    );

    await page.locator('#card-errors').focus();
    const focused = () => frame.evaluate(() => document.activeElement?.id ?? '');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'card-number');
    await page.keyboard.type(CARDS.visa);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'card-expiry');
    await page.keyboard.type('1234');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'card-cvc');
    await page.keyboard.type(CVC);
    assert.equal(await frame.getByLabel('Card number').inputValue(), spaced(CARDS.visa));
    assert.equal(await frame.getByLabel('Expiry').inputValue(), '12 / 34');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Save card');
    await shot('02-typed');
    await page.keyboard.press('Enter');

    assert.equal(await waitForText(page.locator('[data-card-summary]'), /Visa/), 'Visa •••• 4242');
    assert.match(await page.getByRole('status').innerText(), /Card saved: Visa •••• 4242/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'card-on-file', 'focus moves to the card on file');
    assert.equal(await frame.getByLabel('Card number').inputValue(), '', 'the fields are cleared');
    await shot('03-visa-saved');

    await page.reload();
    assert.match(await onFile().innerText(), /Visa •••• 4242\s+expires 12\/2034/);
    const card = await storedCard();
    assert.deepEqual(
      { brand: card?.brand, last4: card?.last4, exp_month: card?.exp_month, exp_year: card?.exp_year },
      { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034 },
    );
  });

  test('the gateway has one customer for the account (metadata account_id) whose default payment method is the card on file', async () => {
    const stripe = gatewayClient({ url: new URL(sandbox.url), secretKey: keys.secretKey });
    const card = (await storedCard())!;
    const customer = await stripe.customers.retrieve(card.customer_id);
    assert.ok(!('deleted' in customer && customer.deleted));
    if ('deleted' in customer && customer.deleted) return;
    assert.equal(customer.metadata.account_id, ACCOUNT);
    assert.equal(customer.invoice_settings.default_payment_method, card.payment_method_id);
    const pm = await stripe.paymentMethods.retrieve(card.payment_method_id);
    assert.equal(pm.customer, card.customer_id);
    assert.equal(pm.card?.last4, '4242');
    const all = await stripe.customers.list({ limit: 100 });
    assert.equal(all.data.filter((c) => c.metadata.account_id === ACCOUNT).length, 1);
  });

  test('a declined card (4000 0000 0000 0002) shows the decline in the alert, and the card on file is unchanged', async () => {
    const before = await storedCard();
    assert.equal((await submitCard(CARDS.declined)).status(), 201);
    assert.match(await waitForText(alertBox(), /declined/), /Your card was declined\. Please use a different card/);
    await shot('04-declined');
    assert.deepEqual(await storedCard(), before);
    assert.match(await onFile().innerText(), /Visa •••• 4242/);
    const frame = await cardFrame();
    assert.equal(await frame.evaluate(() => document.activeElement?.id), 'card-number', 'focus returns to the card fields');
  });

  test('each other failing test card shows its own helpful message, and nothing is stored', async () => {
    const before = await storedCard();
    const cases: [string, RegExp, string][] = [
      [CARDS.insufficientFunds, /insufficient funds/, '05-insufficient-funds'],
      [CARDS.incorrectCvc, /security code \(CVC\) is incorrect/, '06-incorrect-cvc'],
      [CARDS.expired, /has expired/, '07-expired'],
      [CARDS.processingError, /error occurred while processing your card.*try again/, '08-processing-error'],
    ];
    for (const [number, message, name] of cases) {
      assert.equal((await submitCard(number)).status(), 201, number);
      await waitForText(alertBox(), message);
      await shot(name);
      assert.deepEqual(await storedCard(), before, number);
    }
  });

  test('4000 0000 0000 0341 attaches: it becomes the card on file', async () => {
    const before = (await storedCard())!;
    assert.equal((await submitCard(CARDS.attachesThenFails)).status(), 201);
    await waitForText(page.locator('[data-card-summary]'), /0341/);
    assert.equal(await alertBox().innerText(), '');
    assert.match(await onFile().innerText(), /^Visa •••• 0341\s+expires 12\/2034$/);
    const card = (await storedCard())!;
    assert.equal(card.last4, '0341');
    assert.notEqual(card.payment_method_id, before.payment_method_id);
    assert.ok(card.added_at > before.added_at, 'added_at moves with a new card');
    await shot('09-0341-on-file');
  });

  test('a mistyped number is caught in the card fields before anything is sent or counted', async () => {
    const counted = await attempts();
    const frame = await cardFrame();
    await frame.getByLabel('Card number').fill(spaced(CARDS.mistyped));
    await frame.getByLabel('Expiry').fill('12 / 34');
    await frame.getByLabel('CVC').fill(CVC);
    await page.getByRole('button', { name: 'Save card' }).click();
    await waitForText(alertBox(), /card number is incorrect/);
    assert.equal(await frame.getByLabel('Card number').getAttribute('aria-invalid'), 'true');
    assert.equal(await attempts(), counted);
  });

  test('card testing: one client secret confirmed with four cards at the gateway is refused after its first failure; only its one attempt is counted and nothing is saved', async () => {
    await page.goto(`${ccForms.url}/card`);
    const counted = await attempts();
    const before = await storedCard();
    // What a script on the signed-in page can do: ask cc-forms for one setup intent…
    const started = await page.evaluate(async () => {
      const csrf = document.querySelector('meta[name="csrf-token"]')!.getAttribute('content')!;
      const res = await fetch('/card/setup-intents', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: '{}',
      });
      return { status: res.status, body: (await res.json()) as { client_secret: string } };
    });
    assert.equal(started.status, 201);
    assert.equal(await attempts(), counted + 1, 'the setup intent is one attempt');
    const secret = started.body.client_secret;
    const id = secret.split('_secret_')[0]!;
    // …then try card after card on it with the publishable key, straight at the gateway, as Stripe.js would.
    const api = async (path: string, form: Record<string, string>) => {
      const res = await fetch(`${sandbox.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.publishableKey}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
      return { status: res.status, body: await res.json() };
    };
    const answers: [number, string][] = [];
    for (const number of [CARDS.declined, CARDS.insufficientFunds, CARDS.expired, CARDS.visa]) {
      const pm = await api('/v1/payment_methods', {
        type: 'card',
        'card[number]': number,
        'card[exp_month]': '12',
        'card[exp_year]': '2034',
        'card[cvc]': CVC,
      });
      assert.equal(pm.status, 200);
      const confirmed = await api(`/v1/setup_intents/${id}/confirm`, { payment_method: pm.body.id, client_secret: secret });
      answers.push([confirmed.status, confirmed.body.error?.code ?? confirmed.body.status]);
    }
    assert.deepEqual(answers, [
      [402, 'card_declined'],
      [400, 'setup_intent_unexpected_state'],
      [400, 'setup_intent_unexpected_state'],
      [400, 'setup_intent_unexpected_state'],
    ]);
    const succeeded = await db.pool.query(`select 1 from gateway_sandbox.setup_intents where id = $1 and status = 'succeeded'`, [id]);
    assert.equal(succeeded.rowCount, 0, 'not even the good card got through on that secret');
    assert.equal(await attempts(), counted + 1);
    assert.deepEqual(await storedCard(), before);
  });

  test('the attempt past CARD_ATTEMPTS_PER_HOUR is refused with 429 and a message saying when to try again', async () => {
    assert.equal(await attempts(), ATTEMPTS_PER_HOUR);
    const before = await storedCard();
    const res = await submitCard(CARDS.mastercard);
    assert.equal(res.status(), 429);
    assert.ok(Number(res.headers()['retry-after']) > 0);
    const text = await waitForText(alertBox(), new RegExp(`You have tried ${ATTEMPTS_PER_HOUR} cards in the last hour`));
    assert.match(text, /Please try again in \d+ minutes?\. Nothing was saved\./);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'card-errors', 'focus moves to the message');
    assert.deepEqual(await storedCard(), before);
    await shot('10-rate-limited');
  });

  test('a POST without the CSRF token is 403: setup intents, saving a card, signing out', async () => {
    const base = ccForms.url;
    for (const [path, body] of [
      ['/card/setup-intents', {}],
      ['/card', { setup_intent: 'seti_x' }],
    ] as const) {
      const res = await context.request.post(`${base}${path}`, { data: body });
      assert.equal(res.status(), 403, path);
      assert.match((await res.json()).error.message, /security token/);
    }
    const signout = await context.request.post(`${base}/signout`, { form: {}, maxRedirects: 0 });
    assert.equal(signout.status(), 403);
    assert.equal((await context.request.get(`${base}/card`, { maxRedirects: 0 })).status(), 200, 'still signed in');
  });

  test('no card number or CVC reached cc-forms, either process’s logs, any table, or the card page’s messages', async () => {
    const numbers = Object.values(CARDS).flatMap((n) => [n, spaced(n)]);
    const cvcAlone = new RegExp(`(?<![0-9A-Za-z.])${CVC}(?![0-9A-Za-z.])`);
    const leaks = (what: string, text: string) => {
      for (const n of numbers) assert.ok(!text.includes(n), `${what} holds ${n}`);
      assert.ok(!cvcAlone.test(text), `${what} holds the CVC`);
    };
    assert.ok(
      toCcForms.some((r) => r.url.endsWith('/card/setup-intents')),
      'requests to cc-forms were seen',
    );
    for (const r of toCcForms) leaks(`request ${r.url}`, `${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`);
    leaks('cc-forms logs', ccForms.lines.join('\n'));
    leaks('gateway-sandbox logs', sandbox.lines.join('\n'));
    const messages = await page.evaluate(() => (window as unknown as { __messages: string[] }).__messages.join('\n'));
    leaks('messages to the card page', messages);

    const { rows: tables } = await db.pool.query<{ schema: string; name: string }>(
      `select table_schema as schema, table_name as name from information_schema.tables
       where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
    );
    assert.ok(
      tables.some((t) => t.schema === 'gateway_sandbox'),
      'the sandbox’s tables are dumped too',
    );
    let dumped = 0;
    for (const t of tables) {
      const { rows } = await db.pool.query<{ row: string }>(`select x::text as row from ${quote(t.schema)}.${quote(t.name)} x`);
      dumped += rows.length;
      leaks(`${t.schema}.${t.name}`, rows.map((r) => r.row).join('\n'));
    }
    assert.ok(dumped > 0);
  });

  test('the sandbox serves the Stripe.js stand-in and the card iframe, whose CSP lets only the card form frame it; an origin parameter changes nothing; a bad key is refused', async () => {
    const js = await fetch(`${sandbox.url}/v3/`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(await js.text(), /confirmCardSetup/);
    const ccOrigin = new URL(ccForms.url).origin;
    const frame = await fetch(`${sandbox.url}/elements/card?key=${keys.publishableKey}`);
    assert.equal(frame.status, 200);
    const csp = frame.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /connect-src 'self';/);
    const ancestors = csp
      .split(';')
      .map((d) => d.trim())
      .filter((d) => d.startsWith('frame-ancestors'));
    assert.deepEqual(ancestors, [`frame-ancestors ${ccOrigin}`], 'the card form’s origin, and only it, may frame the fields');
    const body = await frame.text();
    assert.ok(body.includes(`data-parent-origin="${ccOrigin}"`), 'the fields answer the card form alone');
    assert.ok(!/<script>|<style>|\sstyle="|\son[a-z]+="/.test(body), 'no inline code in the iframe either');
    // An origin parameter, whatever it says, is ignored: the same page, the same CSP.
    for (const origin of ['https://evil.example', 'javascript:alert(1)', ccOrigin]) {
      const claimed = await fetch(`${sandbox.url}/elements/card?key=${keys.publishableKey}&origin=${encodeURIComponent(origin)}`);
      assert.equal(claimed.status, 200, origin);
      assert.equal(claimed.headers.get('content-security-policy'), csp, origin);
      assert.equal(await claimed.text(), body, origin);
    }
    for (const bad of ['', `key=${keys.secretKey}`, 'key=pk_test_other']) {
      assert.equal((await fetch(`${sandbox.url}/elements/card?${bad}`)).status, 400, bad);
    }
  });

  test('each side checks the other’s origin: another site cannot frame the card fields; an origin parameter changes nothing; the page ignores messages not from its iframe', async () => {
    await page.goto(`${ccForms.url}/card`);
    const frame = await cardFrame();
    const iframe = page.locator('iframe');
    const height = await iframe.evaluate((f) => (f as HTMLIFrameElement).style.height);
    // A message from the page itself (not the gateway's iframe) claiming to be one.
    await page.evaluate(() => window.postMessage({ source: 'vault-elements', type: 'resize', height: 777 }, '*'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await iframe.evaluate((f) => (f as HTMLIFrameElement).style.height), height);
    assert.notEqual(height, '777px');
    assert.equal(await frame.getByLabel('Card number').isEnabled(), true);

    // The card iframe told another parent origin still answers the card form only: its fields work as ever.
    await page.evaluate(
      (src) => {
        const f = document.createElement('iframe');
        f.src = src;
        f.id = 'claimed';
        document.body.appendChild(f);
      },
      `${sandbox.url}/elements/card?key=${keys.publishableKey}&origin=${encodeURIComponent('https://evil.example')}`,
    );
    let claimed: Frame | undefined;
    await eventually('the iframe given origin=https://evil.example', () => {
      claimed = page.frames().find((f) => f.url().includes('evil.example'));
      return claimed !== undefined;
    });
    await claimed!.getByLabel('Card number').waitFor();
    assert.equal(await claimed!.getByLabel('Card number').isEnabled(), true);
    assert.equal(await claimed!.evaluate(() => document.body.dataset.parentOrigin), new URL(ccForms.url).origin);

    // A page of another origin (here the sandbox's own) framing the fields: the browser refuses to show them.
    const foreign = await context.newPage();
    try {
      await foreign.goto(`${sandbox.url}/health`);
      await foreign.evaluate((src) => {
        const f = document.createElement('iframe');
        f.src = src;
        f.id = 'foreign';
        document.body.appendChild(f);
      }, `${sandbox.url}/elements/card?key=${keys.publishableKey}`);
      const handle = await foreign.locator('#foreign').elementHandle();
      await eventually('the foreign frame settled', async () => (await handle!.contentFrame()) !== null);
      await new Promise((r) => setTimeout(r, 1_000));
      const inner = (await handle!.contentFrame())!;
      assert.equal(await inner.locator('#card-number').count(), 0, 'no card fields inside another site');
    } finally {
      await foreign.close();
    }
  });

  test('signing out with the header button ends the session', async () => {
    await page.goto(`${ccForms.url}/card`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${ccForms.url}/`);
    assert.equal((await context.request.get(`${ccForms.url}/card`, { maxRedirects: 0 })).status(), 303);
    await shot('11-signed-out');
  });
});
