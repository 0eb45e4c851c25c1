// Bearer authentication as every app uses it (requireBearer): who reaches
// which route, deny by default; failed authentications rate limited per client
// address; and the development admin token, one per installation, whose value
// is never logged.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError, memoryLogger, requireBearer, resolveAdminToken, type BearerOptions, type TokenVerifier } from '../src/index.ts';

const ADMIN = 'runtime-auth-admin-token-0123456789abcdef';
const TOKENS: Record<string, Awaited<ReturnType<TokenVerifier>>> = {
  [ADMIN]: { kind: 'admin' },
  'finance-token': { kind: 'finance', tokenId: 'tok_0000000000000001' },
  'account-token': { kind: 'account', accountId: 'acct-1', tokenId: 'tok_0000000000000002' },
  'publisher-token': { kind: 'publisher', tokenId: 'tok_0000000000000003' },
};
const verify: TokenVerifier = async (token) => TOKENS[token];

async function app(options: BearerOptions = {}): Promise<FastifyInstance> {
  const http = Fastify();
  requireBearer(http, verify, options);
  http.get('/health', async () => ({ status: 'ok' }));
  http.get('/v1/reports', async () => ({ ok: true }));
  http.post('/v1/events', async () => ({ ok: true }));
  http.get('/v1/items/:id', async (req) => ({ principal: req.principal }));
  http.get('/page', { config: { bearer: false } }, async () => 'page');
  await http.ready();
  return http;
}

const as = (token?: string, remoteAddress = '10.0.0.1') => ({ headers: token ? { authorization: `Bearer ${token}` } : {}, remoteAddress });

describe('requireBearer: who reaches what', () => {
  test('no token or an unknown one is 401 with WWW-Authenticate; /health and bearer:false routes are open', async () => {
    const http = await app();
    for (const token of [undefined, 'nobody']) {
      const res = await http.inject({ method: 'GET', url: '/v1/reports', ...as(token) });
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['www-authenticate'], 'Bearer');
      assert.deepEqual(res.json(), { error: token ? 'invalid token' : 'missing bearer token' });
    }
    assert.equal((await http.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    assert.equal((await http.inject({ method: 'GET', url: '/page' })).statusCode, 200);
  });

  test('deny by default: a route reach does not list is the admin token alone; any other kind is 403', async () => {
    const http = await app();
    for (const [token, principal] of Object.entries(TOKENS)) {
      const res = await http.inject({ method: 'GET', url: '/v1/reports', ...as(token) });
      assert.equal(res.statusCode, principal!.kind === 'admin' ? 200 : 403, principal!.kind);
      if (res.statusCode === 403) {
        const article = principal!.kind === 'account' ? 'an' : 'a';
        assert.deepEqual(res.json(), { error: `${article} ${principal!.kind} token does not reach this route: it is for admin tokens` });
      }
    }
  });

  test('reach lists who else reaches a route, by method and route (HEAD as GET); the route sees the principal', async () => {
    const http = await app({ reach: { 'POST /v1/events': ['admin', 'publisher'], 'GET /v1/items/:id': ['admin', 'account'] } });
    const status = async (method: 'GET' | 'POST' | 'HEAD', url: string, token: string) =>
      (await http.inject({ method, url, ...as(token) })).statusCode;
    assert.deepEqual(
      await Promise.all(['publisher-token', 'finance-token', 'account-token', ADMIN].map((t) => status('POST', '/v1/events', t))),
      [200, 403, 403, 200],
    );
    assert.deepEqual(
      await Promise.all(['publisher-token', 'finance-token', 'account-token', ADMIN].map((t) => status('GET', '/v1/items/7', t))),
      [403, 403, 200, 200],
    );
    assert.equal(await status('HEAD', '/v1/items/7', 'account-token'), 200);
    assert.equal(await status('HEAD', '/v1/items/7', 'publisher-token'), 403);
    assert.equal(await status('GET', '/v1/reports', 'publisher-token'), 403, 'not listed: admin only');
    const seen = await http.inject({ method: 'GET', url: '/v1/items/7', ...as('account-token') });
    assert.deepEqual(seen.json().principal, TOKENS['account-token']);
    // A valid token on a route that does not exist: 404, whatever its kind.
    assert.equal(await status('GET', '/v1/nowhere', 'publisher-token'), 404);
    assert.equal(await status('GET', '/v1/nowhere', 'nobody'), 401);
  });

  test('an address that is no route: without a token the app’s 404; a junk token still 401, counted toward 429; a valid one 404', async () => {
    const http = await app({ failures: { limit: 2, windowMs: 60_000 } });
    const get = (token?: string) => http.inject({ method: 'GET', url: '/v1/nowhere', ...as(token) });
    const none = await get();
    assert.equal(none.statusCode, 404);
    assert.equal(none.headers['www-authenticate'], undefined);
    assert.equal((await http.inject({ method: 'POST', url: '/nope', ...as() })).statusCode, 404);
    // Not a bearer token, but credentials: refused as a missing token on a route is.
    assert.equal((await http.inject({ method: 'GET', url: '/v1/nowhere', headers: { authorization: 'Basic eDp5' } })).statusCode, 401);
    for (let i = 1; i <= 2; i++) {
      const junk = await get(`guess-${i}`);
      assert.equal(junk.statusCode, 401, `failure ${i}`);
      assert.deepEqual(junk.json(), { error: 'invalid token' });
    }
    assert.equal((await get('guess-3')).statusCode, 429, 'failures on no route count as any others');
    assert.equal((await get('publisher-token')).statusCode, 404);
  });

  test('unverifiable: a token the app cannot check is 401 saying why and which tokens the route takes, not "invalid"; still counted toward 429', async () => {
    const unverifiable = (token: string) => (token.startsWith('other-') ? 'this app cannot verify another app’s token' : undefined);
    const http = await app({ reach: { 'POST /v1/events': ['publisher'] }, unverifiable, failures: { limit: 3, windowMs: 60_000 } });
    const reports = await http.inject({ method: 'GET', url: '/v1/reports', ...as('other-1') });
    assert.equal(reports.statusCode, 401);
    assert.equal(reports.headers['www-authenticate'], 'Bearer');
    assert.deepEqual(reports.json(), { error: 'this app cannot verify another app’s token: this route is for admin tokens' });
    assert.deepEqual((await http.inject({ method: 'POST', url: '/v1/events', ...as('other-2') })).json(), {
      error: 'this app cannot verify another app’s token: this route is for publisher tokens',
    });
    assert.deepEqual((await http.inject({ method: 'GET', url: '/v1/nowhere', ...as('other-3') })).json(), {
      error: 'this app cannot verify another app’s token',
    });
    assert.equal((await http.inject({ method: 'GET', url: '/v1/reports', ...as('other-4') })).statusCode, 429, 'a failure like any');
    assert.deepEqual((await http.inject({ method: 'GET', url: '/v1/reports', ...as('nobody', '10.0.0.2') })).json(), {
      error: 'invalid token',
    });
  });

  test('a reach naming a route that does not exist stops the app at ready', async () => {
    await assert.rejects(app({ reach: { 'GET /v1/item/:id': ['account'] } }), /reach names GET \/v1\/item\/:id, which is no route/);
  });
});

describe('requireBearer: failed authentications are rate limited per client address', () => {
  test('the 21st failure within a minute from one address is 429 with Retry-After; its valid tokens and other addresses are unaffected', async () => {
    const http = await app();
    const get = (token: string | undefined, ip?: string) => http.inject({ method: 'GET', url: '/v1/reports', ...as(token, ip) });
    for (let i = 1; i <= 20; i++) assert.equal((await get(`guess-${i}`)).statusCode, 401, `failure ${i}`);
    const limited = await get('guess-21');
    assert.equal(limited.statusCode, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`);
    assert.match(limited.json().error, /too many failed authentications/);
    assert.equal((await get(undefined)).statusCode, 429, 'no token, from a limited address');
    // Successes are unaffected: a valid token still gets in from the limited address.
    assert.equal((await get(ADMIN)).statusCode, 200);
    assert.equal((await get('account-token')).statusCode, 403, 'a known token is judged as ever');
    assert.equal((await get('guess-22')).statusCode, 429);
    // Another address is not affected.
    assert.equal((await get(ADMIN, '10.0.0.2')).statusCode, 200);
    assert.equal((await get('guess', '10.0.0.2')).statusCode, 401);
    // Open routes stay open.
    assert.equal((await http.inject({ method: 'GET', url: '/health', remoteAddress: '10.0.0.1' })).statusCode, 200);
  });

  test('successes never count, nor do requests without a token: a busy client with a valid token is never limited', async () => {
    const http = await app();
    const get = (token: string | undefined) => http.inject({ method: 'GET', url: '/v1/reports', ...as(token) });
    for (let i = 0; i < 19; i++) assert.equal((await get(`guess-${i}`)).statusCode, 401);
    for (let i = 0; i < 100; i++) assert.equal((await get(ADMIN)).statusCode, 200, `success ${i}`);
    for (let i = 0; i < 30; i++) assert.equal((await get(undefined)).statusCode, 401, `no token ${i}`);
    assert.equal((await get('guess-19')).statusCode, 401, 'the 20th failure is still a 401');
    assert.equal((await get('guess-20')).statusCode, 429, 'the 21st is a 429');
    assert.equal((await get(ADMIN)).statusCode, 200, 'and the valid token still gets in');
  });

  test("the window's end lifts the limit", async () => {
    const http = await app({ failures: { limit: 3, windowMs: 300 } });
    const get = (token: string) => http.inject({ method: 'GET', url: '/v1/reports', ...as(token) });
    for (let i = 0; i < 3; i++) assert.equal((await get('guess')).statusCode, 401);
    const limited = await get('guess');
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers['retry-after'], '1');
    await new Promise((r) => setTimeout(r, 350));
    assert.equal((await get('guess')).statusCode, 401);
  });
});

describe('the admin token: ADMIN_TOKEN, or in development the installation’s, never logged', () => {
  const dirs: string[] = [];
  const home = () => {
    const dir = mkdtempSync(join(tmpdir(), 'vault-admin-token-'));
    dirs.push(dir);
    return join(dir, 'home');
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('ADMIN_TOKEN is used as given, nothing written', () => {
    const vaultHome = home();
    const log = memoryLogger();
    assert.equal(resolveAdminToken({ ADMIN_TOKEN: ADMIN, DATABASE_URL: 'postgres://u:p@db/x', VAULT_HOME: vaultHome }, log), ADMIN);
    assert.deepEqual(log.lines, []);
  });

  test('with DATABASE_URL (a deployment) and no ADMIN_TOKEN, none is generated: a ConfigError naming ADMIN_TOKEN', () => {
    assert.throws(
      () => resolveAdminToken({ DATABASE_URL: 'postgres://u:p@db/x', VAULT_HOME: home() }, memoryLogger()),
      (err: unknown) =>
        err instanceof ConfigError && err.problems[0]!.variable === 'ADMIN_TOKEN' && /required with DATABASE_URL/.test(err.message),
    );
  });

  test('in development, apps starting at once share one token in $VAULT_HOME/admin_token (0600); the log says where, never what', async () => {
    const vaultHome = home();
    const src = (file: string) => JSON.stringify(fileURLToPath(new URL(`../src/${file}`, import.meta.url)));
    const script = `
      const { resolveAdminToken } = await import(${src('auth.ts')});
      const { createLogger } = await import(${src('log.ts')});
      const token = resolveAdminToken({ VAULT_HOME: ${JSON.stringify(vaultHome)} }, createLogger({ app: 'p' }));
      process.stderr.write('TOKEN ' + token + '\\n');`;
    const runs = await Promise.all(
      Array.from(
        { length: 8 },
        () =>
          new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
            const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (d) => (stdout += d));
            child.stderr.on('data', (d) => (stderr += d));
            child.on('close', (code) => resolve({ stdout, stderr, code }));
          }),
      ),
    );
    const file = join(vaultHome, 'admin_token');
    const token = readFileSync(file, 'utf8').trim();
    assert.ok(token.length >= 32, `${token.length} characters`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.equal(/TOKEN (\S+)/.exec(run.stderr)?.[1], token, 'every process has the one token');
      assert.match(run.stdout, /event=admin_token\.(generated|development) path=\S+admin_token/);
      assert.ok(!run.stdout.includes(token), `the log never holds the token:\n${run.stdout}`);
    }
    assert.equal(runs.filter((r) => r.stdout.includes('event=admin_token.generated')).length, 1, 'generated once');
    // Later starts read it.
    const log = memoryLogger();
    assert.equal(resolveAdminToken({ VAULT_HOME: vaultHome }, log), token);
    assert.match(log.lines[0]!, /event=admin_token\.development path=/);
  });

  test('a file that holds no usable token is a clear error, not a weak token', () => {
    const vaultHome = home();
    resolveAdminToken({ VAULT_HOME: vaultHome }, memoryLogger());
    writeFileSync(join(vaultHome, 'admin_token'), 'short\n');
    assert.throws(
      () => resolveAdminToken({ VAULT_HOME: vaultHome }, memoryLogger()),
      /ADMIN_TOKEN: unset, and \S+admin_token holds no token of at least 32 characters: delete it, or set ADMIN_TOKEN/,
    );
  });
});
