// Every way an app's boot can fail on what its environment points at, against
// the real apps as processes: exit non-zero with exactly one error line, in
// logfmt, naming the variable and what is wrong, never a stack trace, never the
// database password. Bad values of the variables themselves are in
// test/bad-input.test.ts (configuration: …) and packages/runtime/test/config.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  bootToExit as bootUntilExit,
  freePort,
  freshDatabase,
  migrateApps,
  startService,
  type ExitedService,
  type TestDatabase,
} from '@vault/testkit';

const PASSWORD = 'hunter2-secret';
const ADMIN = 'boot-errors-admin-token-0123456789abcdef';
const APPS = [
  ['metering', 'METERING_PORT'],
  ['invoicing', 'INVOICING_PORT'],
  ['cc-forms', 'CC_FORMS_PORT'],
  ['gateway-sandbox', 'GATEWAY_PORT'],
] as const;
// What these wait for is an exit: a boot that hangs fails at BOOT_MS, one that exits is done at once.
// So the bound can be generous for a loaded machine (CI runs ~1,900 tests on 2 cores, where one
// boot took more than the 30 s that were allowed), and a test's limit is its boots' bounds, added.
const BOOT_MS = 120_000;
const boots = (n: number) => ({ timeout: n * BOOT_MS + 30_000 });
const LONG = boots(1);
const bootToExit = (app: string, env: Record<string, string>) => bootUntilExit(app, env, BOOT_MS);

let db: TestDatabase;
before(async () => {
  db = await freshDatabase('booterr');
  // Every app's schema, so an app that does boot finds what it reads (invoicing reads metering's views).
  await migrateApps(db);
});
after(() => db?.drop());

/** Exit non-zero with one error line, naming `variable` and each of `says`; no stack, no password. */
function assertOneClearLine(run: ExitedService, variable: string, ...says: (string | RegExp)[]): string {
  const all = run.lines.join('\n');
  assert.notEqual(run.status, 0, all);
  const errors = run.lines.filter((l) => /\bat=error\b/.test(l));
  assert.equal(errors.length, 1, `exactly one error line:\n${all}`);
  const line = errors[0]!;
  assert.match(line, /^app=\S+ at=error event=(config\.invalid|boot\.failed) /, line);
  assert.ok(line.includes(`${variable}: `), `names ${variable}: ${line}`);
  for (const s of says) {
    if (typeof s === 'string') assert.ok(line.includes(s), `says ${s}: ${line}`);
    else assert.match(line, s);
  }
  assert.ok(!run.lines.some((l) => /^\s+at /.test(l)), `no stack trace:\n${all}`);
  assert.ok(!all.includes(PASSWORD), 'never the password');
  assert.ok(!run.lines.some((l) => l.includes('event=app.listening')), 'it never listened');
  return line;
}

describe('a DATABASE_URL that is malformed or does not answer stops every app, naming it and the host:port', { concurrency: 4 }, () => {
  for (const [app, portVariable] of APPS) {
    const env = async () => ({ HOST: '127.0.0.1', [portVariable]: String(await freePort()), KAFKA_BROKERS: '', ADMIN_TOKEN: ADMIN });

    test(`${app}: malformed (not a URL, no host, another scheme) is config.invalid before anything else`, boots(3), async () => {
      for (const [url, problem] of [
        ['not a url', 'not a URL'],
        ['postgres://', 'no host'],
        [`mysql://vault:${PASSWORD}@db:3306/vault`, 'the scheme must be postgres://'],
      ] as const) {
        const run = await bootToExit(app, { ...(await env()), DATABASE_URL: url });
        const line = assertOneClearLine(run, 'DATABASE_URL', problem);
        assert.match(line, /event=config\.invalid/);
        assert.equal(run.status, 1);
      }
    });

    test(`${app}: a host that does not resolve, and a port where nothing listens`, boots(2), async () => {
      const unresolved = await bootToExit(app, { ...(await env()), DATABASE_URL: `postgres://vault:${PASSWORD}@db.invalid:5432/vault` });
      assertOneClearLine(
        unresolved,
        'DATABASE_URL',
        'variable=DATABASE_URL',
        'cannot reach PostgreSQL at db.invalid:5432',
        /does not resolve \(getaddrinfo (ENOTFOUND|EAI_AGAIN)\)/,
      );
      const closed = await freePort();
      const refused = await bootToExit(app, { ...(await env()), DATABASE_URL: `postgres://vault:${PASSWORD}@127.0.0.1:${closed}/vault` });
      assertOneClearLine(refused, 'DATABASE_URL', `cannot reach PostgreSQL at 127.0.0.1:${closed}: connection refused`);
    });
  }
});

describe("DATABASE_URL's password in a boot error: never shown, and a short one garbles nothing", () => {
  const env = async () => ({ HOST: '127.0.0.1', METERING_PORT: String(await freePort()), KAFKA_BROKERS: '', ADMIN_TOKEN: ADMIN });

  test('metering: a one-letter password leaves the line intact (every "a" was ***)', LONG, async () => {
    const closed = await freePort();
    const run = await bootToExit('metering', { ...(await env()), DATABASE_URL: `postgres://vault:a@127.0.0.1:${closed}/vault` });
    const line = assertOneClearLine(
      run,
      'DATABASE_URL',
      `DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:${closed}: connection refused`,
    );
    assert.ok(!line.includes('***'), line);
  });

  test('metering: a long password the error repeats (here in the host name) is masked', LONG, async () => {
    const run = await bootToExit('metering', {
      ...(await env()),
      DATABASE_URL: `postgres://vault:${PASSWORD}@${PASSWORD}.invalid:5432/vault`,
    });
    assertOneClearLine(run, 'DATABASE_URL', 'cannot reach PostgreSQL at ***.invalid:5432', 'host ***.invalid does not resolve');
  });
});

describe('a port already in use stops every app, naming its port variable and the port', { concurrency: 4 }, () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  for (const [app, portVariable] of APPS) {
    test(`${app}: ${portVariable} in use`, LONG, async () => {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const taken = (server.address() as { port: number }).port;
      const run = await bootToExit(app, {
        DATABASE_URL: db.url,
        HOST: '127.0.0.1',
        KAFKA_BROKERS: '',
        ADMIN_TOKEN: ADMIN,
        [portVariable]: String(taken),
        // invoicing registers no webhook endpoint on a gateway that is not there.
        GATEWAY_WEBHOOK_SECRET: 'whsec_boot_errors',
      });
      assertOneClearLine(run, portVariable, `variable=${portVariable}`, `port ${taken} is already in use on 127.0.0.1`);
    });
  }
});

describe('invoicing: a bad PRICE_BOOK stops it before any migration', { concurrency: 3 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'price-book-'));
  const files = {
    missing: [join(dir, 'nowhere.json'), 'no such file'],
    'not JSON': [join(dir, 'broken.json'), 'not JSON ('],
    'a bad field': [join(dir, 'bad-field.json'), 'products.dyno:basic'],
    'a currency without cents': [join(dir, 'yen.json'), 'currency: JPY does not count in hundredths'],
  } as const;
  writeFileSync(files['a currency without cents'][0], JSON.stringify({ currency: 'JPY', products: { 'dyno:basic': '700.00' } }));
  writeFileSync(files['not JSON'][0], '{"currency": "USD", ');
  writeFileSync(files['a bad field'][0], JSON.stringify({ currency: 'USD', products: { 'dyno:basic': 7 } }));

  for (const [what, [path, says]] of Object.entries(files)) {
    test(`${what}: config.invalid naming PRICE_BOOK and the file, and no invoicing schema in a fresh database`, LONG, async () => {
      const fresh = await freshDatabase('pricebook');
      try {
        const run = await bootToExit('invoicing', {
          DATABASE_URL: fresh.url,
          HOST: '127.0.0.1',
          ADMIN_TOKEN: ADMIN,
          INVOICING_PORT: String(await freePort()),
          PRICE_BOOK: path,
        });
        const line = assertOneClearLine(run, 'PRICE_BOOK', `price book ${path}: ${says}`);
        assert.match(line, /event=config\.invalid/);
        assert.ok(!run.lines.some((l) => /db\.migrated|postgres\./.test(l)), 'nothing migrated');
        const { rows } = await fresh.pool.query(`select schema_name from information_schema.schemata where schema_name = 'invoicing'`);
        assert.deepEqual(rows, []);
      } finally {
        await fresh.drop();
      }
    });
  }
});

describe('metering: KAFKA_BROKERS that does not answer stops it within seconds, naming the variable and the brokers', {
  concurrency: 2,
}, () => {
  test('connection refused, and a host that does not resolve', boots(3), async () => {
    // "Within seconds" is against this machine's boot now: one that stops at its configuration
    // (as fast as a boot ends) takes what loading the app takes; kafkajs's own retries took minutes.
    const config = await bootToExit('metering', { DATABASE_URL: 'not a url', HOST: '127.0.0.1', METERING_PORT: String(await freePort()) });
    assert.notEqual(config.status, 0, config.lines.join('\n'));
    const bound = 2 * config.ms + 30_000;
    const closed = await freePort();
    for (const [brokers, says] of [
      [`127.0.0.1:${closed}`, `127.0.0.1:${closed} connection refused`],
      ['kafka.invalid:9092', /kafka\.invalid:9092 host does not resolve/],
    ] as const) {
      const run = await bootToExit('metering', {
        DATABASE_URL: db.url,
        HOST: '127.0.0.1',
        METERING_PORT: String(await freePort()),
        KAFKA_BROKERS: brokers,
        ADMIN_TOKEN: ADMIN,
      });
      assertOneClearLine(run, 'KAFKA_BROKERS', 'variable=KAFKA_BROKERS', `cannot reach Kafka at ${brokers}`, says);
      assert.ok(run.ms < bound, `bounded: exited after ${run.ms} ms (a boot stopped at its configuration: ${config.ms} ms)`);
    }
  });
});

describe('ADMIN_TOKEN: a deployment (DATABASE_URL set) must give one of at least 32 characters', { concurrency: 2 }, () => {
  for (const [app, portVariable] of APPS.filter(([a]) => a === 'metering' || a === 'invoicing')) {
    test(`${app}: unset, or too short, is config.invalid naming ADMIN_TOKEN before any migration, never quoting it`, boots(2), async () => {
      const fresh = await freshDatabase('admintoken');
      try {
        const env = { DATABASE_URL: fresh.url, HOST: '127.0.0.1', KAFKA_BROKERS: '', [portVariable]: String(await freePort()) };
        const unset = await bootToExit(app, env);
        const line = assertOneClearLine(unset, 'ADMIN_TOKEN', 'event=config.invalid', 'required with DATABASE_URL');
        assert.match(line, /at least 32 characters/);
        const short = 'short-admin-token-1234567890';
        const tooShort = await bootToExit(app, { ...env, ADMIN_TOKEN: short });
        assertOneClearLine(tooShort, 'ADMIN_TOKEN', 'event=config.invalid', 'must have at least 32 characters');
        assert.ok(!tooShort.lines.join('\n').includes(short), 'the value is never quoted');
        for (const run of [unset, tooShort]) assert.ok(!run.lines.some((l) => /db\.migrated|postgres\./.test(l)), 'nothing migrated');
        const { rows } = await fresh.pool.query(
          `select schema_name from information_schema.schemata where schema_name in ('metering', 'invoicing')`,
        );
        assert.deepEqual(rows, []);
      } finally {
        await fresh.drop();
      }
    });
  }
});

describe("an app never fails on another app's variable", () => {
  test('a bad PAYMENT_RETRY_SCHEDULE: metering boots and is healthy, invoicing refuses it naming it', boots(2), async () => {
    const env = {
      DATABASE_URL: db.url,
      HOST: '127.0.0.1',
      KAFKA_BROKERS: '',
      PAYMENT_RETRY_SCHEDULE: 'every day',
      ADMIN_TOKEN: ADMIN,
    };
    const metering = await startService('metering', { ...env, METERING_PORT: String(await freePort()) });
    try {
      const res = await fetch(`${metering.url}/health`);
      assert.deepEqual([res.status, await res.json()], [200, { status: 'ok' }]);
    } finally {
      await metering.kill('SIGTERM');
    }
    const invoicing = await bootToExit('invoicing', { ...env, INVOICING_PORT: String(await freePort()) });
    assertOneClearLine(invoicing, 'PAYMENT_RETRY_SCHEDULE', 'event=config.invalid', 'expected comma-separated ISO-8601 durations');
  });
});
