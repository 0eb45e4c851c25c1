// docker-compose.yml is for users with Docker, and nothing here runs Docker:
// these checks keep it correct without an engine. Every app runs its Procfile
// command with a healthcheck, waits for healthy infrastructure, and gets an
// environment our own settings parser accepts; every variable it sets exists.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { gatewayTarget } from '@vault/gateway';
import { parseConfig } from '@vault/runtime';
import { APP_SETTINGS, VaultSettings } from '../scripts/cli/vault-settings.ts';

const root = new URL('../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      command?: string;
      env_file?: { path: string; required: boolean }[];
      environment?: Record<string, string>;
      healthcheck?: { test: string[] };
      depends_on?: Record<string, { condition: string }>;
      ports?: string[];
      volumes?: string[];
    }
  >;
  volumes?: Record<string, unknown>;
};
const procfile = Object.fromEntries(
  readFileSync(new URL('Procfile', root), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => l.split(/:\s*(.*)/s).slice(0, 2) as [string, string]),
);
const APPS = ['gateway-sandbox', 'metering', 'invoicing', 'cc-forms'] as const;

/** What the shell gives the variables compose requires (`${NAME:?message}`). */
const SHELL: Record<string, string> = { ADMIN_TOKEN: 'compose-admin-token-0123456789abcdef' };

/**
 * Compose's `${NAME:-default}` and `${NAME:?message}` as they expand with `shell`
 * (what the shell or .env sets; compose refuses to start without a required one).
 */
const expand = (value: string, shell = SHELL) =>
  String(value)
    .replace(/\$\{([A-Z_]+):-([^}]*)\}/g, (_, name: string, fallback: string) => shell[name] || fallback)
    .replace(/\$\{([A-Z_]+):\?[^}]*\}/g, (_, name: string) => {
      const given = shell[name];
      if (given === undefined) throw new Error(`compose refuses to start: ${name} is required`);
      return given;
    });

describe('docker-compose.yml, checked without Docker', () => {
  test('the Procfile names exactly the four apps, and compose runs each with its Procfile command', () => {
    assert.deepEqual(Object.keys(procfile).sort(), [...APPS].sort());
    for (const app of APPS) assert.equal(compose.services[app]?.command, procfile[app], app);
  });

  test('every service has a healthcheck; each app waits for healthy PostgreSQL and Kafka, invoicing for the gateway too', () => {
    for (const [name, service] of Object.entries(compose.services))
      assert.ok(service.healthcheck?.test.length, `${name} has a healthcheck`);
    for (const app of APPS) {
      assert.equal(compose.services[app]!.depends_on?.postgres?.condition, 'service_healthy', app);
      assert.equal(compose.services[app]!.depends_on?.kafka?.condition, 'service_healthy', app);
    }
    assert.equal(compose.services.invoicing!.depends_on?.['gateway-sandbox']?.condition, 'service_healthy');
    // Invoicing reads metering's views: started after it (it waits at boot for metering's migrations itself).
    assert.equal(compose.services.invoicing!.depends_on?.metering?.condition, 'service_started');
  });

  test("each app's healthcheck asks its own port's /health", () => {
    const ports: Record<string, string> = { 'gateway-sandbox': '3003', metering: '3001', invoicing: '3000', 'cc-forms': '3002' };
    for (const app of APPS) {
      const check = compose.services[app]!.healthcheck!.test;
      assert.ok(check.join(' ').includes('/health'), app);
      assert.equal(check.at(-1), ports[app], app);
    }
  });

  test('ADMIN_TOKEN has no default: compose requires it, and each app refuses one under 32 characters', () => {
    for (const app of APPS) {
      const environment = compose.services[app]!.environment ?? {};
      assert.match(environment.ADMIN_TOKEN ?? '', /^\$\{ADMIN_TOKEN:\?[^}]+\}$/, `${app}: ADMIN_TOKEN is \${ADMIN_TOKEN:?…}`);
      assert.throws(() => expand(environment.ADMIN_TOKEN!, {}), /ADMIN_TOKEN is required/);
    }
    const env = (token: string) =>
      Object.fromEntries(
        Object.entries(compose.services.metering!.environment ?? {}).map(([k, v]) => [k, expand(v, { ADMIN_TOKEN: token })]),
      );
    for (const app of ['metering', 'invoicing'] as const) {
      assert.throws(() => parseConfig(APP_SETTINGS[app], env('too-short')), /ADMIN_TOKEN: must have at least 32 characters/, app);
      const { ADMIN_TOKEN: _, ...without } = env('x');
      assert.throws(() => parseConfig(APP_SETTINGS[app], without), /ADMIN_TOKEN: required with DATABASE_URL/, app);
    }
  });

  test("the apps' environment, with its defaults, is one our settings parser and the gateway configuration accept, and names only real variables", () => {
    const known = new Set(Object.keys(VaultSettings.shape));
    for (const app of APPS) {
      const env = Object.fromEntries(Object.entries(compose.services[app]!.environment ?? {}).map(([k, v]) => [k, expand(v)]));
      for (const name of Object.keys(env)) assert.ok(known.has(name), `${app} sets ${name}, which no app reads`);
      // Every app's variables parse as the CLI parses them; the app itself reads only its own.
      const settings = parseConfig(VaultSettings, env);
      parseConfig(APP_SETTINGS[app], env);
      assert.deepEqual(settings.KAFKA_BROKERS, ['kafka:9092']);
      assert.match(settings.DATABASE_URL!, /^postgres:\/\/.+@postgres:5432\//);
      const gateway = gatewayTarget(settings);
      assert.equal(gateway.url.toString(), 'http://gateway-sandbox:3003/');
      // No constant keys: unless the shell sets them, every app reads the sandbox's own from its database.
      assert.equal(gateway.keys, undefined, `${app}: no default gateway keys`);
    }
  });

  test("switched to Stripe's API as its comment says, an app boots only with Stripe.js from Stripe: the sandbox's script left as the default is refused, naming GATEWAY_JS_URL", () => {
    const stripe = {
      ...SHELL,
      GATEWAY_URL: 'https://api.stripe.com',
      GATEWAY_SECRET_KEY: 'sk_test_x',
      GATEWAY_PUBLISHABLE_KEY: 'pk_test_x',
    };
    const settingsWith = (shell: Record<string, string>) =>
      parseConfig(
        VaultSettings,
        Object.fromEntries(Object.entries(compose.services['cc-forms']!.environment ?? {}).map(([k, v]) => [k, expand(v, shell)])),
      );
    assert.throws(() => gatewayTarget(settingsWith(stripe)), /GATEWAY_JS_URL: must be https:\/\/js\.stripe\.com\/v3\//);
    const target = gatewayTarget(settingsWith({ ...stripe, GATEWAY_JS_URL: 'https://js.stripe.com/v3/' }));
    assert.equal(target.sandbox, false);
    assert.ok(
      /GATEWAY_JS_URL=https:\/\/js\.stripe\.com\/v3\//.test(readFileSync(new URL('docker-compose.yml', root), 'utf8')),
      'the comment says so',
    );
  });

  test("the image's default command (vault start, no DATABASE_URL) can write VAULT_HOME as the user it runs as", () => {
    const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
    const home = parseConfig(VaultSettings, {}).VAULT_HOME;
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
    assert.equal(user, 'node');
    const chown = new RegExp(`mkdir -p ${home.replace('.', '\\.')} && chown ${user}:${user} ${home.replace('.', '\\.')}`);
    assert.match(dockerfile.slice(0, dockerfile.indexOf('USER ')), chown, `${home} is made the ${user} user's before USER`);
  });

  test("`vault archive` in metering writes under a declared named volume (ARCHIVE_DIR, else VAULT_HOME/archive, from the image's WORKDIR), whatever a .env's ARCHIVE_DIR says, and the image gives that directory to the user it runs as", () => {
    const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
    const workdir = /^WORKDIR (\S+)$/m.exec(dockerfile)?.[1];
    assert.ok(workdir, 'the Dockerfile has a WORKDIR');
    const metering = compose.services.metering!;
    // Named volumes only: a bind mount's source (./…, /…) is the host's, not compose's to keep.
    const mounts = (metering.volumes ?? [])
      .map((v) => v.split(':') as [string, string])
      .filter(([source]) => source in (compose.volumes ?? {}));
    // As archive.ts resolves it (no --dir): ARCHIVE_DIR, else VAULT_HOME/archive, against the working directory.
    const archiveDir = (shell: Record<string, string>) => {
      const env = Object.fromEntries(Object.entries(metering.environment ?? {}).map(([k, v]) => [k, expand(v, shell)]));
      const settings = parseConfig(APP_SETTINGS.metering, { ...shell, ...env });
      return posix.resolve(workdir, settings.ARCHIVE_DIR ?? posix.join(settings.VAULT_HOME, 'archive'));
    };
    for (const shell of [SHELL, { ...SHELL, ARCHIVE_DIR: './archive' }, { ...SHELL, ARCHIVE_DIR: '/home/me/archive' }]) {
      const dir = archiveDir(shell);
      const mount = mounts.find(([, target]) => dir === target || dir.startsWith(`${target.replace(/\/$/, '')}/`));
      assert.ok(
        mount,
        `metering's archive directory ${dir} (shell ${JSON.stringify(shell.ARCHIVE_DIR)}) lies under a declared volume: ${JSON.stringify(metering.volumes)}`,
      );
      // A new volume takes the ownership of the image's directory it is mounted on: the app's user must write there.
      const target = mount[1].replace(/\./g, '\\.');
      assert.match(
        dockerfile.slice(0, dockerfile.indexOf('USER ')),
        new RegExp(`mkdir -p ${target} && chown node:node ${target}`),
        `${mount[1]} is the node user's in the image`,
      );
    }
  });

  test("Kafka keeps its topics in its volume (the image's default log directory is under /tmp)", () => {
    const kafka = compose.services.kafka!;
    const volume = (kafka as { volumes?: string[] }).volumes?.find((v) => v.startsWith('kafkadata:'));
    assert.ok(volume, 'kafka has the kafkadata volume');
    assert.equal(String(kafka.environment?.KAFKA_LOG_DIRS), volume.split(':')[1]);
  });

  test('every variable of .env reaches each app (env_file, optional), under the environment compose sets', () => {
    for (const app of APPS) {
      assert.deepEqual(compose.services[app]!.env_file, [{ path: '.env', required: false }], app);
      // A .env's ports change nothing: the containers keep the ones published and health-checked.
      const env = compose.services[app]!.environment ?? {};
      assert.deepEqual(
        [env.INVOICING_PORT, env.METERING_PORT, env.CC_FORMS_PORT, env.GATEWAY_PORT].map(String),
        ['3000', '3001', '3002', '3003'],
        app,
      );
    }
  });

  test("every variable an app reads reaches it from the shell, as .env's header promises: listed under environment: with the shell's value, unless compose sets it for its network", () => {
    // Set for the compose network; the embedded PostgreSQL's and the embedded bus's are not used under compose.
    const composeOwn = new Set([
      // Metering's, in the archive volume (below).
      'ARCHIVE_DIR',
      'DATABASE_URL',
      // disable: compose's PostgreSQL has no TLS, whatever .env says.
      'PGSSLMODE',
      'KAFKA_BROKERS',
      'HOST',
      'INVOICING_PORT',
      'METERING_PORT',
      'CC_FORMS_PORT',
      'GATEWAY_PORT',
    ]);
    const unused = new Set(['VAULT_HOME', 'EMBEDDED_PG_PORT', 'BUS_TRIM_EVERY_SECONDS']);
    for (const app of APPS) {
      const env = compose.services[app]!.environment ?? {};
      for (const name of Object.keys(APP_SETTINGS[app].shape)) {
        if (composeOwn.has(name) || unused.has(name)) continue;
        // Only in .env (env_file) it would reach the app; `NAME=… docker compose up` would not.
        assert.ok(name in env, `${app} reads ${name}: compose must pass it through`);
        assert.match(String(env[name]), new RegExp(`^\\$\\{${name}:[-?]`), `${app}: ${name} is the shell's or .env's`);
      }
    }
    // Unset in the shell and in .env, each is blank (the app's default) or compose's default, which the apps accept.
    const blank = Object.fromEntries(Object.entries(compose.services.invoicing!.environment ?? {}).map(([k, v]) => [k, expand(v)]));
    assert.equal(blank.TRUST_PROXY, '');
    assert.equal(parseConfig(APP_SETTINGS.invoicing, blank).TRUST_PROXY, false);
    const shell = { ...SHELL, TRUST_PROXY: 'true', SMTP_URL: 'smtp://mail.example.com:587' };
    const given = Object.fromEntries(Object.entries(compose.services.invoicing!.environment ?? {}).map(([k, v]) => [k, expand(v, shell)]));
    const settings = parseConfig(APP_SETTINGS.invoicing, given);
    assert.equal(settings.TRUST_PROXY, true);
    assert.equal(settings.SMTP_URL, 'smtp://mail.example.com:587');
  });

  test('the sandbox publishes port 3003 on the loopback interface only (its test keys and card fields are for this machine)', () => {
    assert.deepEqual(compose.services['gateway-sandbox']!.ports, ['127.0.0.1:3003:3003']);
    for (const [name, service] of Object.entries(compose.services)) {
      for (const mapping of service.ports ?? []) {
        if (/(^|:)3003(-\d+)?:/.test(mapping)) assert.match(mapping, /^127\.0\.0\.1:/, `${name} publishes ${mapping} beyond loopback`);
      }
    }
  });
});
