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

  /** The variables `.env.example` assigns. */
  const listed = () =>
    new Set([...readFileSync(`${root}.env.example`, 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
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

  test('.env.example lists every variable the settings read, and only variables something reads', () => {
    const example = listed();
    const read = [...Object.keys(VaultSettings.shape), ...Object.keys(READ_ELSEWHERE)];
    for (const name of read) assert.ok(example.has(name), `.env.example lists ${name}`);
    for (const name of example) assert.ok(read.includes(name), `${name} in .env.example is read by the settings`);
    for (const [name, file] of Object.entries(READ_ELSEWHERE)) {
      assert.ok(readFileSync(`${root}${file}`, 'utf8').includes(`env.${name}`), `${file} reads ${name}`);
    }
  });

  test('every configuration variable of api.md (test/fixtures/api-variables.txt) is read by the settings', () => {
    const names = apiVariables().get('Configuration') ?? [];
    assert.ok(names.length >= 10, 'the fixture lists api.md\'s configuration table');
    for (const name of names) assert.ok(name in VaultSettings.shape, `the settings read ${name}`);
  });

});
