// docker-compose.yml is for users with Docker, and nothing here runs Docker:
// these checks keep it correct without an engine. Every app runs its Procfile
// command with a healthcheck, waits for healthy infrastructure, and gets an
// environment our own settings parser accepts; every variable it sets exists.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { gatewayConfig } from '@vault/gateway';
import { parseConfig } from '@vault/runtime';
import { APP_SETTINGS, VaultSettings } from '../scripts/cli/vault-settings.ts';

const root = new URL('../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      command?: string;
      environment?: Record<string, string>;
      healthcheck?: { test: string[] };
      depends_on?: Record<string, { condition: string }>;
      ports?: string[];
    }
  >;
};
const procfile = Object.fromEntries(
  readFileSync(new URL('Procfile', root), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => l.split(/:\s*(.*)/s).slice(0, 2) as [string, string]),
);
const APPS = ['gateway-sandbox', 'metering', 'invoicing', 'cc-forms'] as const;

/** Compose's `${NAME:-default}`, as it would expand with nothing set in the shell. */
const expand = (value: string) => String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

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
  });

  test("each app's healthcheck asks its own port's /health", () => {
    const ports: Record<string, string> = { 'gateway-sandbox': '3003', metering: '3001', invoicing: '3000', 'cc-forms': '3002' };
    for (const app of APPS) {
      const check = compose.services[app]!.healthcheck!.test;
      assert.ok(check.join(' ').includes('/health'), app);
      assert.equal(check.at(-1), ports[app], app);
    }
  });

  test("the apps' environment, with its defaults, is one our settings parser and the gateway configuration accept, and names only real variables", () => {
    const known = new Set(Object.keys(VaultSettings.shape));
    for (const app of APPS) {
      const env = Object.fromEntries(Object.entries(compose.services[app]!.environment ?? {}).map(([k, v]) => [k, expand(v)]));
      for (const name of Object.keys(env)) assert.ok(known.has(name), `${app} sets ${name}, which no app reads`);
      // `vault start <app>` parses them all; the app itself only its own.
      const settings = parseConfig(VaultSettings, env);
      parseConfig(APP_SETTINGS[app], env);
      assert.deepEqual(settings.KAFKA_BROKERS, ['kafka:9092']);
      assert.match(settings.DATABASE_URL!, /^postgres:\/\/.+@postgres:5432\//);
      const gateway = gatewayConfig(settings);
      assert.equal(gateway.url.toString(), 'http://gateway-sandbox:3003/');
    }
  });
});
