import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ccFormsConfig } from '@vault/cc-forms/config';
import { gatewaySandboxConfig } from '@vault/gateway-sandbox/config';
import { invoicingConfig } from '@vault/invoicing/config';
import { ConfigError, isoDurationSeconds, parseConfig } from '@vault/runtime';
import { APP_SETTINGS, cliVariables, VaultSettings } from '../scripts/cli/vault-settings.ts';

const root = fileURLToPath(new URL('../', import.meta.url));

describe('configuration', () => {
  test('an empty environment gives the documented defaults', () => {
    const s = parseConfig(VaultSettings, {});
    assert.equal(s.DATABASE_URL, undefined);
    assert.equal(s.KAFKA_BROKERS, undefined);
    assert.equal(s.INVOICE_GRACE_HOURS, 72);
    assert.deepEqual([s.METERING_PORT, s.INVOICING_PORT, s.CC_FORMS_PORT, s.GATEWAY_PORT], [3001, 3000, 3002, 3003]);
    assert.equal(s.BILLING_EVENTS_TOPIC, 'platform.billing-events.v1');
  });

  test('KAFKA_BROKERS is split on commas; blank means unset', () => {
    assert.deepEqual(parseConfig(VaultSettings, { KAFKA_BROKERS: 'a:9092, b:9092' }).KAFKA_BROKERS, ['a:9092', 'b:9092']);
    assert.equal(parseConfig(VaultSettings, { KAFKA_BROKERS: ' ' }).KAFKA_BROKERS, undefined);
    // kafkajs cannot dial an IPv6 literal (53761cb): refused at boot, a host name asked for.
    assert.throws(() => parseConfig(VaultSettings, { KAFKA_BROKERS: '[::1]:9092' }), /KAFKA_BROKERS: "\[::1\]:9092" is an IPv6 address/);
    assert.throws(
      () => parseConfig(VaultSettings, { KAFKA_BROKERS: 'a:9092,kafka' }),
      /KAFKA_BROKERS: expected comma-separated host:port, got "kafka"/,
    );
  });

  test('DATABASE_URL: a postgres:// URL with a host; what is wrong is said without quoting it (it holds a password)', () => {
    assert.equal(parseConfig(VaultSettings, { DATABASE_URL: 'postgresql://u:p@db:5433/x' }).DATABASE_URL, 'postgresql://u:p@db:5433/x');
    assert.equal(parseConfig(VaultSettings, { DATABASE_URL: 'postgres://u:p%25%2F@db/x' }).DATABASE_URL, 'postgres://u:p%25%2F@db/x');
    const cases: [string, RegExp][] = [
      ['not a url', /DATABASE_URL: not a URL \(expected postgres:\/\/user:password@host:port\/database\)/],
      ['postgres://', /DATABASE_URL: no host/],
      ['http://u:s3cret@db/x', /DATABASE_URL: the scheme must be postgres:\/\/ or postgresql:\/\//],
      ['postgres://u:s3cret@db:99999/x', /DATABASE_URL: not a URL/],
      ['postgres://u:s3cret%zz@db/x', /DATABASE_URL: the password is not valid percent-encoding \(write % as %25\)/],
      ['postgres://u%e9:s3cret@db/x', /DATABASE_URL: the user name is not valid percent-encoding/],
      ['postgres://u:s3cret@db/x%', /DATABASE_URL: the database name is not valid percent-encoding/],
    ];
    for (const [url, message] of cases) {
      assert.throws(
        () => parseConfig(VaultSettings, { DATABASE_URL: url }),
        (err: Error) => {
          assert.match(err.message, message, url);
          assert.ok(!err.message.includes('s3cret'), 'no password');
          return true;
        },
      );
    }
  });

  test('GATEWAY_URL, GATEWAY_JS_URL and INVOICING_URL: absolute http(s) addresses kept as written, anything else refused naming the variable', () => {
    const ok = parseConfig(VaultSettings, {
      GATEWAY_URL: 'https://api.stripe.com',
      GATEWAY_JS_URL: 'https://js.stripe.com/v3/',
      INVOICING_URL: 'http://invoicing:3000',
    });
    assert.deepEqual(
      [ok.GATEWAY_URL, ok.GATEWAY_JS_URL, ok.INVOICING_URL],
      ['https://api.stripe.com', 'https://js.stripe.com/v3/', 'http://invoicing:3000'],
    );
    for (const variable of ['GATEWAY_URL', 'GATEWAY_JS_URL', 'INVOICING_URL']) {
      for (const bad of ['notaurl', '/v3', 'ftp://files.example.com/']) {
        assert.throws(
          () => parseConfig(VaultSettings, { [variable]: bad }),
          new RegExp(`${variable}: expected an absolute http\\(s\\) address, got "${bad.replace(/[/.]/g, '\\$&')}"`),
          `${variable}=${bad}`,
        );
      }
    }
    for (const app of ['invoicing', 'cc-forms', 'gateway-sandbox'] as const) {
      assert.throws(() => parseConfig(APP_SETTINGS[app], { GATEWAY_URL: 'notaurl' }), /GATEWAY_URL: expected an absolute/, app);
    }
  });

  test('CC_FORMS_URL: invoicing and the gateway sandbox take the same values and refuse the same ones, in the same words', () => {
    for (const bad of [
      'https://cards.example.com/?from=mail',
      'https://cards.example.com/#top',
      'https://user:pw@cards.example.com',
      ' https://cards.example.com',
      'ftp://cards.example.com',
    ]) {
      const said = (config: () => unknown) => {
        try {
          config();
        } catch (err) {
          assert.ok(err instanceof ConfigError, String(err));
          return err.problems.filter((p) => p.variable === 'CC_FORMS_URL').map((p) => `${p.variable}: ${p.message}`);
        }
        return [];
      };
      const expected = [
        `CC_FORMS_URL: expected a web address, http(s)://host[:port][/path], without a query, fragment, user or spaces, got ${JSON.stringify(bad)}`,
      ];
      assert.deepEqual(
        said(() => invoicingConfig({ CC_FORMS_URL: bad })),
        expected,
        `invoicing: ${bad}`,
      );
      assert.deepEqual(
        said(() => gatewaySandboxConfig({ CC_FORMS_URL: bad })),
        expected,
        `gateway-sandbox: ${bad}`,
      );
    }
    // A path: invoicing links under it, the sandbox lets its origin frame the card fields.
    const url = 'https://cards.example.com/pay-here/';
    assert.equal(invoicingConfig({ CC_FORMS_URL: url }).ccFormsUrl, 'https://cards.example.com/pay-here');
    assert.equal(gatewaySandboxConfig({ CC_FORMS_URL: url }).cardFormOrigin, 'https://cards.example.com');
  });

  test("invoicing names every bad variable in one error: its schema's, PRICE_BOOK's file and the gateway's keys together", () => {
    assert.throws(
      () => invoicingConfig({ INVOICE_GRACE_HOURS: 'abc', PRICE_BOOK: '/nonexistent/prices.json', GATEWAY_SECRET_KEY: 'sk_test_x' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['GATEWAY_PUBLISHABLE_KEY', 'INVOICE_GRACE_HOURS', 'PRICE_BOOK']);
        assert.match(err.message, /PRICE_BOOK: price book \/nonexistent\/prices\.json: no such file/);
        return true;
      },
    );
    // A bad GATEWAY_URL is named once, though the gateway's own variables are read again.
    assert.throws(
      () => invoicingConfig({ GATEWAY_URL: 'notaurl', INVOICE_GRACE_HOURS: 'abc' }),
      (err: unknown) => err instanceof ConfigError && err.problems.filter((p) => p.variable === 'GATEWAY_URL').length === 1,
    );
  });

  test('a GATEWAY_WEBHOOK_SECRET not shaped whsec_… stops invoicing, which verifies deliveries with it, and not cc-forms, which never reads it', () => {
    const env = { GATEWAY_WEBHOOK_SECRET: 'whsec_abc123\n' };
    assert.throws(
      () => invoicingConfig(env),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) => p.variable === 'GATEWAY_WEBHOOK_SECRET' && /space or newline around it/.test(p.message)),
    );
    // One shared configuration (docker-compose, the README's .env): the card form still boots.
    assert.equal(ccFormsConfig(env).gateway.webhookSecret, 'whsec_abc123\n');
  });

  test("with Stripe's API and no GATEWAY_WEBHOOK_SECRET, invoicing boots only with an INVOICING_URL Stripe can deliver webhooks to (https with live keys)", () => {
    const stripe = { GATEWAY_URL: 'https://api.stripe.com', GATEWAY_SECRET_KEY: 'sk_test_x', GATEWAY_PUBLISHABLE_KEY: 'pk_test_x' };
    const refusal = (env: Record<string, string>) => {
      try {
        invoicingConfig({ ...stripe, ...env });
        return undefined;
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.problems.map((p) => `${p.variable}: ${p.message}`).join('; ');
      }
    };
    for (const url of [
      undefined,
      'http://localhost:3000',
      'http://localhost.:3000',
      'http://invoicing:3000',
      'https://10.0.0.7',
      'https://100.64.1.2',
      'https://[::1]:3000',
      'https://[::ffff:10.0.0.1]',
      'https://billing.internal',
    ]) {
      assert.match(
        refusal(url === undefined ? {} : { INVOICING_URL: url }) ?? 'booted',
        /^INVOICING_URL: must be invoicing's public address where Stripe delivers its webhooks .*or set GATEWAY_WEBHOOK_SECRET/,
        String(url),
      );
    }
    assert.equal(refusal({ INVOICING_URL: 'http://billing.example.com' }), undefined, 'test mode takes http');
    assert.equal(refusal({ INVOICING_URL: 'https://billing.example.com' }), undefined);
    const live = { GATEWAY_SECRET_KEY: 'sk_live_x', GATEWAY_PUBLISHABLE_KEY: 'pk_live_x' };
    assert.match(refusal({ ...live, INVOICING_URL: 'http://billing.example.com' }) ?? 'booted', /public address, https \(live keys\),/);
    assert.equal(refusal({ ...live, INVOICING_URL: 'https://billing.example.com' }), undefined);
    assert.match(
      refusal({ GATEWAY_SECRET_KEY: 'rk_live_x', GATEWAY_PUBLISHABLE_KEY: 'pk_live_x', INVOICING_URL: 'http://billing.example.com' }) ??
        'booted',
      /https \(live keys\)/,
      'a restricted live key is live',
    );
    assert.equal(refusal({ INVOICING_URL: 'https://[::ffff:8.8.8.8]' }), undefined, 'a public IPv4 written as IPv6');
    assert.equal(refusal({ GATEWAY_WEBHOOK_SECRET: 'whsec_x' }), undefined, 'an endpoint registered by hand needs no address');
    assert.equal(
      refusal({ GATEWAY_URL: 'http://localhost:3003', GATEWAY_SECRET_KEY: 'sk_test_x' }),
      undefined,
      'the sandbox reaches anything',
    );
  });

  test('PAYMENT_RETRY_SCHEDULE: ISO-8601 durations in seconds, two retries of 3 and 5 days by default', () => {
    assert.deepEqual(parseConfig(VaultSettings, {}).PAYMENT_RETRY_SCHEDULE, [259200, 432000]);
    assert.deepEqual(parseConfig(VaultSettings, { PAYMENT_RETRY_SCHEDULE: 'PT0.5S, P1DT1H30M' }).PAYMENT_RETRY_SCHEDULE, [0.5, 91800]);
    assert.equal(isoDurationSeconds('P1M'), undefined, 'months vary in length: refused');
    for (const bad of ['3d', 'P', 'PT', 'P1M']) {
      assert.throws(() => parseConfig(VaultSettings, { PAYMENT_RETRY_SCHEDULE: bad }), /PAYMENT_RETRY_SCHEDULE/);
    }
  });

  test('each app parses only the variables it reads: a bad PAYMENT_RETRY_SCHEDULE stops invoicing, not metering', () => {
    const env = { PAYMENT_RETRY_SCHEDULE: 'garbage', CARD_ATTEMPTS_PER_HOUR: '0' };
    assert.equal(parseConfig(APP_SETTINGS.metering, env).METERING_PORT, 3001);
    assert.equal(parseConfig(APP_SETTINGS['gateway-sandbox'], env).GATEWAY_PORT, 3003);
    assert.throws(() => parseConfig(APP_SETTINGS.invoicing, env), /^ConfigError: invalid configuration: PAYMENT_RETRY_SCHEDULE: /);
    assert.throws(() => parseConfig(APP_SETTINGS['cc-forms'], env), /^ConfigError: invalid configuration: CARD_ATTEMPTS_PER_HOUR: /);
    assert.ok(!('PAYMENT_RETRY_SCHEDULE' in APP_SETTINGS.metering.shape));
  });

  test('a missing value is "required", not zod\'s "expected string, received undefined"', () => {
    const schema = z.object({ PRICE_BOOK: z.string() });
    assert.throws(() => parseConfig(schema, {}), /PRICE_BOOK: required$/);
  });

  test('a number that is not one says so ("must be a number"), not zod\'s "received NaN"; a grace of 0 hours is a setting', () => {
    assert.throws(
      () => parseConfig(VaultSettings, { INVOICE_GRACE_HOURS: 'abc', KAFKA_PORT: 'x' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          { variable: 'INVOICE_GRACE_HOURS', message: 'must be a number' },
          { variable: 'KAFKA_PORT', message: 'must be a number' },
        ]);
        return true;
      },
    );
    assert.equal(parseConfig(VaultSettings, { INVOICE_GRACE_HOURS: '0' }).INVOICE_GRACE_HOURS, 0);
    assert.throws(() => parseConfig(VaultSettings, { INVOICE_GRACE_HOURS: '-1' }), /INVOICE_GRACE_HOURS: /);
  });

  test('a number variable is digits with an optional decimal point: spaces only are unset (never 0), hex, exponents and a plus sign are refused naming it, a negative one by its rule', () => {
    const parsed = (env: Record<string, string>) => parseConfig(VaultSettings, env);
    assert.equal(parsed({ INVOICE_GRACE_HOURS: '   ' }).INVOICE_GRACE_HOURS, 72, 'blank is unset: the default grace, not 0');
    assert.equal(parsed({ INVOICE_GRACE_HOURS: ' 24 ' }).INVOICE_GRACE_HOURS, 24);
    assert.equal(parsed({ CHARGE_EVERY_SECONDS: '0.5' }).CHARGE_EVERY_SECONDS, 0.5);
    assert.equal(parsed({ CHARGE_EVERY_SECONDS: '.5' }).CHARGE_EVERY_SECONDS, 0.5);
    assert.equal(parsed({ CHARGE_EVERY_SECONDS: '5.' }).CHARGE_EVERY_SECONDS, 5);
    // A negative number is one: its rule says what is wrong with it.
    assert.throws(
      () => parsed({ INVOICE_GRACE_HOURS: '-1', METERING_PORT: '-1' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 2 &&
        err.problems.every((p) => p.message !== 'must be a number' && /Too small|>=/.test(p.message)),
    );
    assert.equal(parsed({ METERING_PORT: ' ' }).METERING_PORT, 3001);
    for (const [variable, value] of [
      ['INVOICE_GRACE_HOURS', '0x48'],
      ['INVOICE_GRACE_HOURS', '1e2'],
      ['INVOICE_GRACE_HOURS', '+3'],
      ['INVOICE_GRACE_HOURS', '.'],
      ['INVOICE_GRACE_HOURS', '1.2.3'],
      ['USAGE_FOLD_EVERY_SECONDS', '1e-9'],
      ['METERING_PORT', '0x1F90'],
      ['HTTP_REQUEST_TIMEOUT_MS', '3e4'],
      ['GATEWAY_SANDBOX_LATENCY_MS', 'Infinity'],
      ['KAFKA_CONTROLLER_PORT', '9 093'],
    ] as const) {
      assert.throws(
        () => parsed({ [variable]: value }),
        (err: unknown) =>
          err instanceof ConfigError && err.problems.some((p) => p.variable === variable && p.message === 'must be a number'),
        `${variable}=${value}`,
      );
    }
  });

  test("a loop's interval is at most what a timer can wait, a grace at most a year, a duration at most P3650D (a suspension P36500D): longer ones are refused naming them", () => {
    const parsed = (env: Record<string, string>) => parseConfig(VaultSettings, env);
    // Node runs a timer longer than 2^31-1 ms after 1 ms: "every 30 days" charged every millisecond.
    assert.equal(parsed({ CHARGE_EVERY_SECONDS: '2147483' }).CHARGE_EVERY_SECONDS, 2_147_483);
    assert.equal(parsed({}).WEBHOOK_CATCH_UP_EVERY_SECONDS, 300);
    assert.equal(parsed({ INVOICE_GRACE_HOURS: '8784' }).INVOICE_GRACE_HOURS, 8784);
    assert.deepEqual(parsed({ PAYMENT_RETRY_SCHEDULE: 'P3650D' }).PAYMENT_RETRY_SCHEDULE, [3650 * 86400]);
    // A cutoff in the past, not an instant ahead: P36500D is how "never suspend" was written.
    assert.equal(parsed({ SUSPEND_PAST_DUE_AFTER: 'P36500D' }).SUSPEND_PAST_DUE_AFTER, 36_500 * 86_400);
    const refused = {
      CHARGE_EVERY_SECONDS: '2592000',
      WEBHOOK_CATCH_UP_EVERY_SECONDS: '2592000',
      INVOICE_FINALIZE_EVERY_SECONDS: '99999999',
      USAGE_FOLD_EVERY_SECONDS: '2147484',
      BUS_TRIM_EVERY_SECONDS: '2592000',
      // Beyond a year a month's due instant is no valid date, and `vault finalize` would take the running month.
      INVOICE_GRACE_HOURS: '9999999999',
      PAYMENT_RETRY_SCHEDULE: 'P3D,P100000000D',
      SUSPEND_PAST_DUE_AFTER: 'P36501D',
    };
    assert.throws(
      () => parsed(refused),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems.map((p) => p.variable).sort(), Object.keys(refused).sort());
        assert.ok(
          err.problems.every((p) => /at most/.test(p.message)),
          err.message,
        );
        return true;
      },
    );
  });

  test('BILLING_EVENTS_TOPIC and BILLING_NOTICES_TOPIC are Kafka topic names: anything else is refused at boot naming them', () => {
    const parsed = (env: Record<string, string>) => parseConfig(VaultSettings, env);
    assert.equal(parsed({ BILLING_NOTICES_TOPIC: 'billing.notices_v2-eu' }).BILLING_NOTICES_TOPIC, 'billing.notices_v2-eu');
    for (const bad of ['billing notices', 'a/b', '..', 'x'.repeat(250), 'é']) {
      assert.throws(
        () => parsed({ BILLING_EVENTS_TOPIC: bad, BILLING_NOTICES_TOPIC: bad }),
        (err: unknown) =>
          err instanceof ConfigError &&
          ['BILLING_EVENTS_TOPIC', 'BILLING_NOTICES_TOPIC'].every((v) =>
            err.problems.some((p) => p.variable === v && /expected a Kafka topic name/.test(p.message)),
          ),
        bad,
      );
    }
  });

  test("METERING_CONSUMER_GROUP, HOST and VAULT_HOME: only spaces, or spaces around the value, are refused naming the variable (empty is the default); a consumer group outside Kafka's characters too", () => {
    const refused = (settings: z.ZodType, env: Record<string, string>, variable: string, says: RegExp) =>
      assert.throws(
        () => parseConfig(settings, env),
        (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.variable === variable && says.test(p.message)),
        `${variable}=${JSON.stringify(env[variable])}`,
      );
    const defaults = parseConfig(APP_SETTINGS.metering, { METERING_CONSUMER_GROUP: '', HOST: '', VAULT_HOME: '' });
    assert.deepEqual([defaults.METERING_CONSUMER_GROUP, defaults.HOST, defaults.VAULT_HOME], ['metering', '127.0.0.1', '.vault']);
    assert.equal(
      parseConfig(APP_SETTINGS.metering, { METERING_CONSUMER_GROUP: 'metering.eu_2-b' }).METERING_CONSUMER_GROUP,
      'metering.eu_2-b',
    );
    for (const settings of [APP_SETTINGS.metering, VaultSettings]) {
      refused(settings, { METERING_CONSUMER_GROUP: '   ' }, 'METERING_CONSUMER_GROUP', /only spaces/);
      refused(settings, { METERING_CONSUMER_GROUP: 'metering ' }, 'METERING_CONSUMER_GROUP', /spaces around it \("metering "\)/);
      refused(settings, { METERING_CONSUMER_GROUP: 'metering\n' }, 'METERING_CONSUMER_GROUP', /spaces around it/);
      for (const bad of ['meter ing', 'metering/eu', 'é', 'x'.repeat(250)])
        refused(settings, { METERING_CONSUMER_GROUP: bad }, 'METERING_CONSUMER_GROUP', /expected a consumer group id/);
    }
    for (const app of ['metering', 'invoicing', 'cc-forms', 'gateway-sandbox'] as const) {
      for (const variable of ['HOST', 'VAULT_HOME']) {
        refused(APP_SETTINGS[app], { [variable]: '  ' }, variable, /only spaces/);
        refused(APP_SETTINGS[app], { [variable]: ' 0.0.0.0' }, variable, /spaces around it/);
      }
    }
  });

  test('CARD_ATTEMPTS_PER_HOUR is a whole number of attempts, at least 1, in both apps that read it', () => {
    for (const app of ['invoicing', 'cc-forms'] as const) {
      assert.equal(parseConfig(APP_SETTINGS[app], {}).CARD_ATTEMPTS_PER_HOUR, 10, app);
      assert.equal(parseConfig(APP_SETTINGS[app], { CARD_ATTEMPTS_PER_HOUR: '3' }).CARD_ATTEMPTS_PER_HOUR, 3, app);
      for (const bad of ['0.5', '2.5', '0'])
        assert.throws(
          () => parseConfig(APP_SETTINGS[app], { CARD_ATTEMPTS_PER_HOUR: bad }),
          (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.variable === 'CARD_ATTEMPTS_PER_HOUR'),
          `${app}: ${bad}`,
        );
    }
  });

  test('every bad variable is named in one error', () => {
    assert.throws(
      () => parseConfig(VaultSettings, { METERING_PORT: '70000', INVOICE_GRACE_HOURS: 'soon' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['INVOICE_GRACE_HOURS', 'METERING_PORT']);
        assert.match(err.message, /METERING_PORT/);
        return true;
      },
    );
  });

  /** The variables `.env.example` assigns. */
  const listed = () => new Set([...readFileSync(`${root}.env.example`, 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
  /** Variables read outside the settings schema, and the file that reads each. */
  const READ_ELSEWHERE: Record<string, string> = { VAULT_CACHE_DIR: 'packages/kafka-local/src/paths.ts' };
  /** test/fixtures/api-variables.txt: api.md's configuration variables by section ("## …" lines). */
  function apiVariables(): Map<string, string[]> {
    const sections = new Map<string, string[]>();
    let section = '';
    for (const line of readFileSync(`${root}test/fixtures/api-variables.txt`, 'utf8').split('\n')) {
      if (line.startsWith('## ')) sections.set((section = line.slice(3).trim()), []);
      else if (/^[A-Z][A-Z0-9_]*$/.test(line.trim())) sections.get(section)!.push(line.trim());
    }
    return sections;
  }

  /** Every variable some app's schema reads, or the CLI. */
  const appsRead = () => new Set([...Object.values(APP_SETTINGS).flatMap((s) => Object.keys(s.shape)), ...Object.keys(cliVariables)]);

  test("VaultSettings (the CLI's) is exactly the apps' schemas and the CLI's own variables, each parsed as its app parses it", () => {
    assert.deepEqual(Object.keys(VaultSettings.shape).sort(), [...appsRead()].sort());
    const all = parseConfig(VaultSettings, {});
    for (const [app, schema] of Object.entries(APP_SETTINGS)) {
      const own = parseConfig(schema, {}) as Record<string, unknown>;
      for (const [name, value] of Object.entries(own)) assert.deepEqual(value, (all as Record<string, unknown>)[name], `${app}: ${name}`);
    }
  });

  test('.env.example lists every variable the apps and the CLI read, and only variables something reads', () => {
    const example = listed();
    const read = [...appsRead(), ...Object.keys(READ_ELSEWHERE)];
    for (const name of read) assert.ok(example.has(name), `.env.example lists ${name}`);
    for (const name of example) assert.ok(read.includes(name), `${name} in .env.example is read by the settings`);
    for (const [name, file] of Object.entries(READ_ELSEWHERE)) {
      assert.ok(readFileSync(`${root}${file}`, 'utf8').includes(`env.${name}`), `${file} reads ${name}`);
    }
  });

  test('every configuration variable of api.md (test/fixtures/api-variables.txt) is read by some app', () => {
    const names = apiVariables().get('Configuration') ?? [];
    assert.ok(names.length >= 10, "the fixture lists api.md's configuration table");
    const read = appsRead();
    for (const name of names) assert.ok(read.has(name), `an app reads ${name}`);
  });
});
