import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, isoDurationSeconds, parseConfig, VaultSettings } from '../src/index.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('configuration', () => {
  test('an empty environment gives the documented defaults', () => {
    const s = parseConfig(VaultSettings, {});
    assert.equal(s.DATABASE_URL, undefined);
    assert.equal(s.KAFKA_BROKERS, undefined);
    assert.equal(s.INVOICE_GRACE_HOURS, 72);
    assert.deepEqual(
      [s.METERING_PORT, s.INVOICING_PORT, s.CC_FORMS_PORT, s.GATEWAY_PORT],
      [3001, 3000, 3002, 3003],
    );
    assert.equal(s.BILLING_EVENTS_TOPIC, 'platform.billing-events.v1');
  });

  test('KAFKA_BROKERS is split on commas; blank means unset', () => {
    assert.deepEqual(parseConfig(VaultSettings, { KAFKA_BROKERS: 'a:9092, b:9092' }).KAFKA_BROKERS, ['a:9092', 'b:9092']);
    assert.equal(parseConfig(VaultSettings, { KAFKA_BROKERS: ' ' }).KAFKA_BROKERS, undefined);
  });

  test('PAYMENT_RETRY_SCHEDULE: ISO-8601 durations in seconds, two retries of 3 and 5 days by default', () => {
    assert.deepEqual(parseConfig(VaultSettings, {}).PAYMENT_RETRY_SCHEDULE, [259200, 432000]);
    assert.deepEqual(parseConfig(VaultSettings, { PAYMENT_RETRY_SCHEDULE: 'PT0.5S, P1DT1H30M' }).PAYMENT_RETRY_SCHEDULE, [0.5, 91800]);
    assert.equal(isoDurationSeconds('P1M'), undefined, 'months vary in length: refused');
    for (const bad of ['3d', 'P', 'PT', 'P1M']) {
      assert.throws(() => parseConfig(VaultSettings, { PAYMENT_RETRY_SCHEDULE: bad }), /PAYMENT_RETRY_SCHEDULE/);
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

  test('.env.example lists every variable of api.md and of the settings schema', () => {
    const example = readFileSync(`${root}.env.example`, 'utf8');
    const listed = new Set([...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
    const api = readFileSync(`${root}../shared/spec/api.md`, 'utf8');
    const configSection = api.slice(api.indexOf('## Configuration'), api.indexOf('## Command line'));
    const fromApi = [...configSection.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
    assert.ok(fromApi.length >= 10, 'api.md configuration table was read');
    for (const name of [...fromApi, ...Object.keys(VaultSettings.shape)]) {
      assert.ok(listed.has(name), `.env.example lists ${name}`);
    }
  });
});
