// TLS to PostgreSQL in DATABASE_URL, against the real apps and `vault`. The
// defect: sslmode=prefer, require or verify-ca (how most providers hand out
// URLs) made node-pg print a ten-line SECURITY WARNING on stderr, not logfmt,
// and take them as verify-full: `prefer` failed against a server without TLS,
// `require` failed a provider's own CA. They are refused in one line naming
// the forms that work; those, and uselibpqcompat=true, reach node-pg as written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bootToExit, freePort, freshDatabase, migrateApps, startService, vault, type TestDatabase } from '@vault/testkit';

const ADMIN = 'database-tls-admin-token-0123456789abcdef';
const APPS = [
  ['metering', 'METERING_PORT'],
  ['invoicing', 'INVOICING_PORT'],
  ['cc-forms', 'CC_FORMS_PORT'],
  ['gateway-sandbox', 'GATEWAY_PORT'],
] as const;
const LONG = { timeout: 60_000 };

let db: TestDatabase;
before(async () => {
  db = await freshDatabase('dbtls');
  await migrateApps(db);
});
after(() => db?.drop());

/** The test database's URL with `query` added. */
function withQuery(query: string): string {
  const url = new URL(db.url);
  for (const [name, value] of new URLSearchParams(query)) url.searchParams.append(name, value);
  return url.toString();
}

const env = async (portVariable: string, query: string) => ({
  HOST: '127.0.0.1',
  [portVariable]: String(await freePort()),
  KAFKA_BROKERS: '',
  ADMIN_TOKEN: ADMIN,
  DATABASE_URL: withQuery(query),
});

/** Every line logfmt, exactly one at=error, naming DATABASE_URL and each of `says`; never node-pg's warning. */
function assertOneLogfmtError(lines: readonly string[], event: string, ...says: string[]): void {
  const all = lines.join('\n');
  assert.ok(!all.includes('SECURITY WARNING'), `no node-pg warning:\n${all}`);
  for (const line of lines) assert.match(line, /^app=\S+ at=\w+ event=\S+/, `logfmt:\n${all}`);
  const errors = lines.filter((l) => /\bat=error\b/.test(l));
  assert.equal(errors.length, 1, `exactly one error line:\n${all}`);
  assert.match(errors[0]!, new RegExp(`^app=\\S+ at=error event=${event.replace('.', '\\.')} `));
  for (const s of ['DATABASE_URL: ', ...says]) assert.ok(errors[0]!.includes(s), `says ${s}: ${errors[0]}`);
}

describe('DATABASE_URL with sslmode=prefer, require or verify-ca is refused in one line naming the forms that work', () => {
  for (const [app, portVariable] of APPS) {
    test(`${app}: ?sslmode=require is config.invalid, exit 1, no SECURITY WARNING`, LONG, async () => {
      const run = await bootToExit(app, await env(portVariable, 'sslmode=require'));
      assert.equal(run.status, 1, run.lines.join('\n'));
      assertOneLogfmtError(
        run.lines,
        'config.invalid',
        'sslmode=require would mean verify-full to node-pg',
        'sslmode=verify-full',
        'sslmode=no-verify',
        'sslmode=disable',
        'uselibpqcompat=true',
      );
    });
  }

  test('metering: ?sslmode=prefer and ?sslmode=verify-ca too', LONG, async () => {
    for (const [query, says] of [
      ['sslmode=prefer', 'sslmode=prefer is not supported: node-pg never falls back between TLS and no TLS'],
      ['sslmode=verify-ca', 'sslmode=verify-ca would mean verify-full to node-pg'],
      ['uselibpqcompat=true&sslmode=verify-ca', 'sslmode=verify-ca needs sslrootcert=FILE'],
    ] as const) {
      const run = await bootToExit('metering', await env('METERING_PORT', query));
      assert.equal(run.status, 1, run.lines.join('\n'));
      assertOneLogfmtError(run.lines, 'config.invalid', says);
    }
  });

  test('`vault migrate` with ?sslmode=require: one line on stderr, exit 1', LONG, async () => {
    const run = await vault(['migrate'], { DATABASE_URL: withQuery('sslmode=require'), ADMIN_TOKEN: ADMIN, KAFKA_BROKERS: '' });
    assert.equal(run.status, 1, run.stderr);
    assert.ok(!run.stderr.includes('SECURITY WARNING'), run.stderr);
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.ok(lines[0]!.includes('DATABASE_URL: sslmode=require would mean verify-full to node-pg'), lines[0]);
  });
});

describe('DATABASE_URL with a TLS setting that works reaches node-pg as written', () => {
  test('metering: ?sslmode=disable boots without TLS and without a warning', LONG, async () => {
    const app = await startService('metering', await env('METERING_PORT', 'sslmode=disable'));
    try {
      assert.ok(!app.lines.join('\n').includes('SECURITY WARNING'), app.lines.join('\n'));
    } finally {
      await app.kill();
    }
  });

  test(
    'metering: ?sslmode=no-verify and ?uselibpqcompat=true&sslmode=require ask the server for TLS (the test server has none): one boot.failed line, no warning',
    LONG,
    async () => {
      for (const query of ['sslmode=no-verify', 'uselibpqcompat=true&sslmode=require']) {
        const run = await bootToExit('metering', await env('METERING_PORT', query));
        assert.notEqual(run.status, 0, run.lines.join('\n'));
        assertOneLogfmtError(run.lines, 'boot.failed', 'cannot reach PostgreSQL at', 'The server does not support SSL connections');
      }
    },
  );
});
