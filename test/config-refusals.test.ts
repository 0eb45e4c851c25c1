// Configuration an operator gets wrong is refused at boot with one line per
// variable that says what is wrong (R1 review: KAFKA_BROKERS' port and empty
// list, EVENT_RETENTION's second, false message, loops with no floor).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { invoicingConfig } from '@vault/invoicing/config';
import { meteringConfig } from '@vault/metering/config';
import { ConfigError, parseConfig } from '@vault/runtime';
import { freePort, vault } from '@vault/testkit';
import { VaultSettings } from '../scripts/cli/vault-settings.ts';

/** The problems parsing `env` gives, each `VARIABLE: message`; none: []. */
function problems(parse: () => unknown): string[] {
  try {
    parse();
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.variable}: ${p.message}`);
  }
}

describe('configuration refusals an operator can act on', () => {
  test('KAFKA_BROKERS with a port outside 1–65535 is refused naming the variable and the entry, by every reader', () => {
    for (const value of ['127.0.0.1:99999', 'kafka:0', 'a:9092, b:65536']) {
      const entry = value.split(',').at(-1)!.trim();
      const port = entry.split(':').at(-1);
      const expected = `KAFKA_BROKERS: port ${port} of ${JSON.stringify(entry)} must be 1–65535`;
      assert.deepEqual(
        problems(() => parseConfig(VaultSettings, { KAFKA_BROKERS: value })),
        [expected],
        value,
      );
      assert.deepEqual(
        problems(() => meteringConfig({ KAFKA_BROKERS: value })),
        [expected],
        `metering ${value}`,
      );
      assert.deepEqual(
        problems(() => invoicingConfig({ KAFKA_BROKERS: value })),
        [expected],
        `invoicing ${value}`,
      );
    }
    assert.deepEqual(parseConfig(VaultSettings, { KAFKA_BROKERS: 'a:1,b:65535' }).KAFKA_BROKERS, ['a:1', 'b:65535']);
  });

  test('KAFKA_BROKERS that lists no broker (",", " , ") is refused naming the variable, by every reader: never read as the embedded bus', () => {
    for (const value of [',', ' , ', ',,']) {
      const expected = [`KAFKA_BROKERS: expected comma-separated host:port, got no broker in ${JSON.stringify(value)}`];
      assert.deepEqual(
        problems(() => parseConfig(VaultSettings, { KAFKA_BROKERS: value })),
        expected,
        value,
      );
      assert.deepEqual(
        problems(() => meteringConfig({ KAFKA_BROKERS: value })),
        expected,
        `metering ${value}`,
      );
      assert.deepEqual(
        problems(() => invoicingConfig({ KAFKA_BROKERS: value })),
        expected,
        `invoicing ${value}`,
      );
    }
    // Blank is unset, as ever: the embedded bus.
    assert.equal(parseConfig(VaultSettings, { KAFKA_BROKERS: '  ' }).KAFKA_BROKERS, undefined);
  });

  test('EVENT_RETENTION malformed gets one message, never also a false "must be at most P100Y"', () => {
    const shape = 'EVENT_RETENTION: expected an ISO-8601 duration such as P13M or P400D';
    for (const value of ['-P1M', '13 months', 'P', 'months']) {
      assert.deepEqual(
        problems(() => meteringConfig({ EVENT_RETENTION: value })),
        [shape],
        value,
      );
    }
    assert.deepEqual(
      problems(() => meteringConfig({ EVENT_RETENTION: 'P0D' })),
      ['EVENT_RETENTION: must be longer than zero'],
    );
    assert.deepEqual(
      problems(() => meteringConfig({ EVENT_RETENTION: 'P101Y' })),
      ['EVENT_RETENTION: must be at most P100Y'],
    );
    assert.equal(meteringConfig({ EVENT_RETENTION: 'P100Y' }).EVENT_RETENTION, 'P100Y');
  });

  test("a loop's interval has a floor, named in the message; the fast settings the tests use stay valid", () => {
    const floors: [string, string, number][] = [
      ['CHARGE_EVERY_SECONDS', '0.000001', 0.01],
      ['WEBHOOK_CATCH_UP_EVERY_SECONDS', '0.06', 0.5],
      ['INVOICE_FINALIZE_EVERY_SECONDS', '0.5', 1],
      ['USAGE_FOLD_EVERY_SECONDS', '0.05', 0.1],
      ['BUS_TRIM_EVERY_SECONDS', '0.001', 0.1],
    ];
    for (const [variable, value, floor] of floors) {
      assert.deepEqual(
        problems(() => parseConfig(VaultSettings, { [variable]: value })),
        [`${variable}: must be at least ${floor} (seconds)`],
        `${variable}=${value}`,
      );
    }
    // What the tests set (services/*/test, test/): kept valid.
    const fast = {
      CHARGE_EVERY_SECONDS: '0.02',
      WEBHOOK_CATCH_UP_EVERY_SECONDS: '0.5',
      INVOICE_FINALIZE_EVERY_SECONDS: '1',
      USAGE_FOLD_EVERY_SECONDS: '0.2',
      BUS_TRIM_EVERY_SECONDS: '0.2',
    };
    const s = parseConfig(VaultSettings, fast);
    assert.deepEqual(
      Object.keys(fast).map((v) => s[v as keyof typeof fast]),
      [0.02, 0.5, 1, 0.2, 0.2],
    );
  });

  test('`vault start metering` with KAFKA_BROKERS=127.0.0.1:99999 exits 1 naming it, before the embedded PostgreSQL starts', {
    timeout: 120_000,
  }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'vault-brokers-'));
    try {
      const env = { VAULT_HOME: home, EMBEDDED_PG_PORT: String(await freePort()), METERING_PORT: String(await freePort()) };
      for (const brokers of ['127.0.0.1:99999', ',']) {
        const r = await vault(['start', 'metering', '--no-demo'], { ...env, KAFKA_BROKERS: brokers });
        const out = r.stdout + r.stderr;
        assert.equal(r.status, 1, out);
        assert.match(r.stderr, /^vault: invalid configuration: KAFKA_BROKERS: [^\n]*\n$/, out);
        assert.doesNotMatch(out, /postgres\.(initialise|started)|db\.migrated|event=start /, 'nothing started');
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
