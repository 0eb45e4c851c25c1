// The two customer web apps as real processes (`services/<app>/src/main.ts`,
// configured from the environment), with a sign-in link printed by the real
// `vault token create --account`: behind a proxy that ends TLS, only TRUST_PROXY
// makes X-Forwarded-Proto count, and then the session cookie is
// `__Host-…; Secure` and answers carry Strict-Transport-Security. A link opens
// one session, in whichever app uses it first.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  bootToExit,
  freePort,
  freshDatabase,
  migrateApps,
  startService,
  TEST_GATEWAY_PUBLISHABLE_KEY,
  TEST_GATEWAY_SECRET_KEY,
  vault,
  type RunningService,
  type TestDatabase,
} from '@vault/testkit';
import { signInOver } from './sign-in-fixture.ts';

const ACCOUNT = 'acct-proxy';
const HSTS = 'max-age=31536000';
/** What a proxy that ended TLS adds. */
const VIA_PROXY = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };

let db: TestDatabase;
let env: Record<string, string>;
const apps: (RunningService & { app: string })[] = [];

async function start(app: 'invoicing' | 'cc-forms', trustProxy?: string): Promise<RunningService> {
  const port = String(await freePort());
  const own: Record<string, string> = app === 'invoicing' ? { INVOICING_PORT: port } : { CC_FORMS_PORT: port };
  const service = await startService(app, { ...env, ...own, ...(trustProxy === undefined ? {} : { TRUST_PROXY: trustProxy }) });
  apps.push({ ...service, app });
  return service;
}

/** A new sign-in link for the account, as the operator gets it: `vault token create --account` (stderr). */
async function newLink(): Promise<string> {
  const r = await vault(['token', 'create', '--account', ACCOUNT], env);
  assert.equal(r.status, 0, r.stderr);
  const link = /\/signin\?link=(vl_[\w-]{43})$/m.exec(r.stderr)?.[1];
  assert.ok(link, r.stderr);
  return link;
}

/** Opens the link on the app and presses the button, through the given headers (a proxy's). */
const signIn = (app: RunningService, link: string, headers: Record<string, string> = {}) => signInOver(app.url, link, headers);

before(async () => {
  db = await freshDatabase('behind_proxy');
  await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
  const gatewayPort = String(await freePort());
  env = {
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    ADMIN_TOKEN: 'behind-proxy-admin-token-0123456789abcdef',
    GATEWAY_PORT: gatewayPort,
    GATEWAY_URL: `http://localhost:${gatewayPort}`,
    GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
    GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
    GATEWAY_WEBHOOK_SECRET: 'whsec_behind_proxy',
  };
});

after(async () => {
  await Promise.all(apps.map((a) => a.kill('SIGTERM')));
  await db?.drop();
});

describe('the web apps behind a proxy that ends TLS (real processes)', { timeout: 120_000 }, () => {
  test('invoicing with TRUST_PROXY=true: over X-Forwarded-Proto https the cookie is __Host-vault_session; Secure, and answers carry HSTS', async () => {
    const invoicing = await start('invoicing', 'true');
    const { opened, formCookie, posted, session } = await signIn(invoicing, await newLink(), VIA_PROXY);
    assert.equal(opened.status, 200);
    assert.equal(opened.headers.get('strict-transport-security'), HSTS);
    assert.match(formCookie[0]!, /^__Host-vault_session_signin=/);
    assert.equal(posted.status, 303);
    assert.match(session ?? '', /^__Host-vault_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/);
    assert.equal(posted.headers.get('strict-transport-security'), HSTS);
    const cookie = session!.split(';')[0]!;
    const page = await fetch(`${invoicing.url}/invoices`, { headers: { ...VIA_PROXY, cookie }, redirect: 'manual' });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('strict-transport-security'), HSTS);
    const api = await fetch(`${invoicing.url}/health`, { headers: VIA_PROXY });
    assert.equal(api.headers.get('strict-transport-security'), HSTS, 'every answer, the API too');
    const plain = await fetch(`${invoicing.url}/`);
    assert.equal(plain.headers.get('strict-transport-security'), null, 'not over plain http');
  });

  test('invoicing without TRUST_PROXY: X-Forwarded-Proto: https changes nothing (a plain cookie, no HSTS)', async () => {
    const invoicing = await start('invoicing');
    const { opened, posted, session } = await signIn(invoicing, await newLink(), VIA_PROXY);
    assert.equal(opened.headers.get('strict-transport-security'), null);
    assert.equal(posted.status, 303);
    assert.match(session ?? '', /^vault_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200$/);
    assert.equal(posted.headers.get('strict-transport-security'), null);
  });

  test("cc-forms with TRUST_PROXY naming the proxy's address: __Host-vault_card_session; Secure and HSTS; naming another address, nothing", async () => {
    const trusting = await start('cc-forms', '127.0.0.1');
    const trusted = await signIn(trusting, await newLink(), VIA_PROXY);
    assert.equal(trusted.posted.status, 303);
    assert.match(trusted.session ?? '', /^__Host-vault_card_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/);
    assert.equal(trusted.posted.headers.get('strict-transport-security'), HSTS);
    const card = await fetch(`${trusting.url}/card`, {
      headers: { ...VIA_PROXY, cookie: trusted.session!.split(';')[0]! },
      redirect: 'manual',
    });
    assert.equal(card.status, 200);

    const elsewhere = await start('cc-forms', '10.1.2.3');
    const untrusted = await signIn(elsewhere, await newLink(), VIA_PROXY);
    assert.equal(untrusted.posted.status, 303);
    assert.match(untrusted.session ?? '', /^vault_card_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200$/);
    assert.equal(untrusted.posted.headers.get('strict-transport-security'), null);
  });

  test('a link printed by `vault token create` opens one session in whichever app uses it first; the other refuses it', async () => {
    const invoicing = apps.find((a) => a.app === 'invoicing')!;
    const ccForms = apps.find((a) => a.app === 'cc-forms')!;
    const link = await newLink();
    const first = await signIn(invoicing, link);
    assert.equal(first.posted.status, 303);
    const second = await fetch(`${ccForms.url}/signin?link=${link}`, { redirect: 'manual' });
    assert.equal(second.status, 401);
    assert.match(await second.text(), /Please ask your account's administrator for a new sign-in link/);
    const fresh = await signIn(ccForms, await newLink());
    assert.equal(fresh.posted.status, 303);
    assert.equal(fresh.posted.headers.get('location'), '/card');
  });

  test('a TRUST_PROXY that is neither true, false nor addresses stops the app at boot, naming the variable', async () => {
    const { status, lines } = await bootToExit('cc-forms', {
      ...env,
      CC_FORMS_PORT: String(await freePort()),
      TRUST_PROXY: 'the load balancer',
    });
    assert.equal(status, 1, lines.join('\n'));
    assert.ok(
      lines.some((l) => l.includes('event=config.invalid') && l.includes('TRUST_PROXY')),
      lines.join('\n'),
    );
  });
});
