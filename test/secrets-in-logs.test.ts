// No secret is ever logged (api.md, "Access"): the four apps as real
// processes on one database, given known secrets (the admin token, the
// gateway's secret key, the webhook signing secret) and tokens made by
// `vault token create` (an account's with its sign-in link, finance's, a
// publisher's), are used with them, right and wrong, at every door; then
// every line every app printed, stdout and stderr, is searched for each secret.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { freePort, freshDatabase, startService, vault, type RunningService, type TestDatabase } from '@vault/testkit';
import { exampleText } from '../services/metering/test/harness.ts';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
/** Fresh each run: a value found in a log came from this run. */
const ADMIN = `admin-secrets-test-${hex(16)}`;
const GATEWAY_SECRET_KEY = `sk_test_${hex(32)}`;
const GATEWAY_PUBLISHABLE_KEY = `pk_test_${hex(16)}`;
const WEBHOOK_SECRET = `whsec_${hex(24)}`;

type App = 'sandbox' | 'metering' | 'invoicing' | 'ccForms';

describe('no secret is ever logged: the four apps, their secrets and tokens used right and wrong', { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const apps: Partial<Record<App, RunningService>> = {};
  /** Name → value of every secret the apps were given or made. */
  const secrets = new Map<string, string>([
    ['ADMIN_TOKEN', ADMIN],
    ['GATEWAY_SECRET_KEY', GATEWAY_SECRET_KEY],
    ['GATEWAY_WEBHOOK_SECRET', WEBHOOK_SECRET],
  ]);

  before(async () => {
    db = await freshDatabase('secrets');
    const [gateway, metering, invoicing, ccForms] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    env = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: '',
      HOST: '127.0.0.1',
      ADMIN_TOKEN: ADMIN,
      GATEWAY_PORT: String(gateway),
      GATEWAY_URL: `http://localhost:${gateway}`,
      GATEWAY_SECRET_KEY,
      GATEWAY_PUBLISHABLE_KEY,
      GATEWAY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      METERING_PORT: String(metering),
      INVOICING_PORT: String(invoicing),
      INVOICING_URL: `http://localhost:${invoicing}`,
      CC_FORMS_PORT: String(ccForms),
    };
    apps.sandbox = await startService('gateway-sandbox', env);
    [apps.metering, apps.invoicing, apps.ccForms] = await Promise.all([
      startService('metering', env),
      startService('invoicing', env),
      startService('cc-forms', env),
    ]);
  });
  after(async () => {
    await Promise.all(Object.values(apps).map((a) => a.kill('SIGTERM')));
    await db?.drop();
  });

  /** `vault token create …`: the token (stdout), its id, and any sign-in link's secret (stderr). */
  async function createToken(name: string, args: string[]) {
    const r = await vault(['token', 'create', ...args], env);
    assert.equal(r.status, 0, r.stderr);
    const token = r.stdout.trim();
    secrets.set(name, token);
    const link = /sign-in link for \S+: (\S+)/.exec(r.stderr)?.[1];
    if (link) {
      for (const value of new URL(link).searchParams.values()) if (value.length >= 16) secrets.set(`${name} sign-in link`, value);
    }
    return { token, id: /\b(tok_[0-9a-f]{16})\b/.exec(r.stderr)![1]!, link };
  }

  const call = (app: App, path: string, token?: string, init: RequestInit = {}) =>
    fetch(new URL(path, apps[app]!.url), {
      ...init,
      redirect: 'manual',
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(init.headers ?? {}) },
    });

  test('every secret is used, rightly and wrongly, and none appears in any app’s output', async () => {
    const account = await createToken('account token', ['--account', 'acct-secrets']);
    const finance = await createToken('finance token', ['--finance']);
    const publisher = await createToken('publisher token', ['--publisher', '--expires', 'P1D']);
    const events = { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: exampleText('october.ndjson') };

    const expect = async (what: string, res: Promise<Response>, status: number) => {
      const r = await res;
      await r.arrayBuffer();
      assert.equal(r.status, status, what);
    };
    // Metering: the publisher's and the admin's tokens where they reach, and where they do not.
    await expect('publisher posts events', call('metering', '/v1/events', publisher.token, events), 202);
    await expect('admin posts events', call('metering', '/v1/events', ADMIN, events), 202);
    await expect('publisher reads stats', call('metering', '/v1/stats', publisher.token), 403);
    await expect('admin reads stats', call('metering', '/v1/stats', ADMIN), 200);
    for (const wrong of [`${ADMIN}x`, `${publisher.token}x`, finance.token, account.token, GATEWAY_SECRET_KEY])
      await expect('a wrong token on metering', call('metering', '/v1/events', wrong, events), 401);
    await expect('a token in the query string', call('metering', `/v1/stats?token=${ADMIN}`), 401);

    // Invoicing: every kind of token on the API, right and wrong.
    await expect('account reads its invoices', call('invoicing', '/v1/accounts/acct-secrets/invoices', account.token), 200);
    await expect('admin reads them', call('invoicing', '/v1/accounts/acct-secrets/invoices', ADMIN), 200);
    // A month before any usage exports at once (one with usage waits for its finalize run: 409).
    await expect('finance exports', call('invoicing', '/v1/exports/invoices.csv?period=2026-01', finance.token), 200);
    await expect('finance reads invoices', call('invoicing', '/v1/accounts/acct-secrets/invoices', finance.token), 403);
    await expect('publisher reads invoices', call('invoicing', '/v1/accounts/acct-secrets/invoices', publisher.token), 403);
    await expect('publisher exports', call('invoicing', '/v1/exports/lines.csv?period=2026-10', publisher.token), 403);
    for (const wrong of [`${ADMIN}x`, `${account.token}x`, GATEWAY_SECRET_KEY, WEBHOOK_SECRET])
      await expect('a wrong token on invoicing', call('invoicing', '/v1/holds?period=2026-10', wrong), 401);
    // The web pages: the sign-in link, and tokens where a link belongs.
    for (const path of [
      ...(account.link ? [new URL(account.link).pathname + new URL(account.link).search] : []),
      `/signin?token=${encodeURIComponent(account.token)}`,
      `/signin?token=${encodeURIComponent(ADMIN)}`,
      `/signin?link=${encodeURIComponent(account.token)}`,
    ])
      await (await call('invoicing', path)).arrayBuffer();
    // A gateway webhook signed with the wrong secret, and one naming the secret.
    await expect(
      'a forged webhook',
      call('invoicing', '/v1/gateway/webhooks', undefined, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${WEBHOOK_SECRET}` },
        body: JSON.stringify({ id: 'evt_secret', type: 'invoice.paid', secret: WEBHOOK_SECRET }),
      }),
      400,
    );

    // cc-forms: its sign-in with the link and with tokens.
    for (const path of [
      ...(account.link ? [new URL(account.link).pathname + new URL(account.link).search] : []),
      `/signin?token=${encodeURIComponent(account.token)}`,
      `/signin?link=${encodeURIComponent(ADMIN)}`,
    ])
      await (await call('ccForms', path)).arrayBuffer();

    // The sandbox: its secret key, right and wrong.
    await expect('the gateway key', call('sandbox', '/v1/customers', GATEWAY_SECRET_KEY), 200);
    await expect('a wrong gateway key', call('sandbox', '/v1/customers', `${GATEWAY_SECRET_KEY}x`), 401);
    await expect('the admin token at the gateway', call('sandbox', '/v1/customers', ADMIN), 401);

    // Revoked, the publisher token stops at once.
    const revoked = await vault(['token', 'revoke', publisher.id], env);
    assert.equal(revoked.status, 0, revoked.stderr);
    await expect('a revoked publisher token', call('metering', '/v1/events', publisher.token, events), 401);

    // What the apps made themselves: the sandbox's keys and invoicing's webhook secret, if any.
    for (const [name, sql] of [
      ['the sandbox secret key', 'select secret_key as value from gateway_sandbox.api_keys'],
      ['a webhook endpoint secret', 'select secret as value from invoicing.webhook_endpoints where secret is not null'],
    ] as const) {
      const rows = await db.pool.query<{ value: string }>(sql).then(
        (r) => r.rows,
        () => [],
      );
      for (const [i, row] of rows.entries()) secrets.set(`${name} ${i}`, row.value);
    }

    // Stopped, so every line is out.
    await Promise.all(Object.values(apps).map((a) => a.kill('SIGTERM')));
    const printed = Object.entries(apps).map(([name, app]) => [name, app!.lines] as const);
    for (const [name, lines] of printed) {
      assert.ok(
        lines.some((l) => l.includes('event=app.listening')),
        `${name} printed its lines`,
      );
      for (const [secret, value] of secrets) {
        const line = lines.find((l) => l.includes(value));
        assert.equal(line, undefined, `${name} printed ${secret}`);
      }
    }
    // The doors were tried: refusals are logged, as requests, without what was presented.
    const meteringLines = apps.metering!.lines.join('\n');
    for (const status of [202, 401, 403]) assert.match(meteringLines, new RegExp(`event=http.request .*status=${status}`));
  });
});
