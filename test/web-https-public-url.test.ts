// The two customer web apps as real processes, configured with an https public
// address (INVOICING_WEB_URL, CC_FORMS_URL) and no TRUST_PROXY: TLS ends at a
// router the apps do not believe, so every request arrives as plain http. The
// cookies are still `__Host-…; Secure` and answers carry HSTS (the scheme comes
// from the configured address too), and boot warns once, naming TRUST_PROXY (rate
// limits and logs see the router's address). An http public address changes
// nothing (local development, the demo).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  freePort,
  freshDatabase,
  migrateApps,
  startService,
  TEST_GATEWAY_PUBLISHABLE_KEY,
  TEST_GATEWAY_SECRET_KEY,
  type RunningService,
  type TestDatabase,
} from '@vault/testkit';
import { accountToken, operatorLink, signInOver } from './sign-in-fixture.ts';

const ACCOUNT = 'acct-https-url';
const HSTS = 'max-age=31536000';

let db: TestDatabase;
let env: Record<string, string>;
const apps: RunningService[] = [];

async function start(app: 'invoicing' | 'cc-forms', own: Record<string, string>): Promise<RunningService> {
  const port = String(await freePort());
  const service = await startService(app, {
    ...env,
    ...(app === 'invoicing' ? { INVOICING_PORT: port } : { CC_FORMS_PORT: port }),
    ...own,
  });
  apps.push(service);
  return service;
}

/** Opens a fresh link on the app over plain http and presses the button. */
async function signIn(app: RunningService) {
  return signInOver(app.url, await operatorLink(db.pool, ACCOUNT, await accountToken(db.pool, ACCOUNT)));
}

const warned = (app: RunningService) => app.lines.filter((l) => l.includes('event=web.proxy_untrusted'));

before(async () => {
  db = await freshDatabase('https_public_url');
  await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
  const gatewayPort = String(await freePort());
  env = {
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    ADMIN_TOKEN: 'https-public-url-admin-token-0123456789abcdef',
    GATEWAY_PORT: gatewayPort,
    GATEWAY_URL: `http://localhost:${gatewayPort}`,
    GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
    GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
    GATEWAY_WEBHOOK_SECRET: 'whsec_https_public_url',
  };
});

after(async () => {
  await Promise.all(apps.map((a) => a.kill('SIGTERM')));
  await db?.drop();
});

describe('an https public address without TRUST_PROXY (real processes, plain http requests)', { timeout: 120_000 }, () => {
  test('invoicing (INVOICING_WEB_URL=https://…): __Host-vault_session; Secure, HSTS on every answer, and one warn naming TRUST_PROXY', async () => {
    const invoicing = await start('invoicing', { INVOICING_WEB_URL: 'https://billing.example.test' });
    const { opened, formCookie, posted, session } = await signIn(invoicing);
    assert.equal(opened.status, 200);
    assert.equal(opened.headers.get('strict-transport-security'), HSTS);
    assert.match(formCookie[0]!, /^__Host-vault_session_signin=/);
    assert.equal(posted.status, 303);
    assert.match(session ?? '', /^__Host-vault_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/);
    const page = await fetch(`${invoicing.url}/invoices`, { headers: { cookie: session!.split(';')[0]! }, redirect: 'manual' });
    assert.equal(page.status, 200);
    assert.equal((await fetch(`${invoicing.url}/health`)).headers.get('strict-transport-security'), HSTS, 'the API too');
    const lines = warned(invoicing);
    assert.equal(lines.length, 1, invoicing.lines.join('\n'));
    assert.match(
      lines[0]!,
      /at=warn event=web\.proxy_untrusted variable=TRUST_PROXY url=https:\/\/billing\.example\.test .*INVOICING_WEB_URL is https but TRUST_PROXY is unset/,
    );
  });

  test('cc-forms (CC_FORMS_URL=https://…): __Host-vault_card_session; Secure, HSTS, and the warn', async () => {
    const ccForms = await start('cc-forms', { CC_FORMS_URL: 'https://cards.example.test' });
    const { posted, session } = await signIn(ccForms);
    assert.equal(posted.status, 303);
    assert.match(session ?? '', /^__Host-vault_card_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/);
    assert.equal(posted.headers.get('strict-transport-security'), HSTS);
    const card = await fetch(`${ccForms.url}/card`, { headers: { cookie: session!.split(';')[0]! }, redirect: 'manual' });
    assert.equal(card.status, 200);
    assert.match(
      warned(ccForms)[0] ?? '',
      /at=warn event=web\.proxy_untrusted variable=TRUST_PROXY url=https:\/\/cards\.example\.test .*CC_FORMS_URL is https/,
    );
  });

  test('with TRUST_PROXY set, no warn; with an http public address, nothing changes: a plain cookie, no HSTS, no warn', async () => {
    const trusting = await start('cc-forms', { CC_FORMS_URL: 'https://cards.example.test', TRUST_PROXY: 'true' });
    assert.deepEqual(warned(trusting), []);
    const local = await start('invoicing', { INVOICING_WEB_URL: 'http://localhost:3000' });
    const { posted, session } = await signIn(local);
    assert.equal(posted.status, 303);
    assert.match(session ?? '', /^vault_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200$/);
    assert.equal(posted.headers.get('strict-transport-security'), null);
    assert.deepEqual(warned(local), []);
  });
});
