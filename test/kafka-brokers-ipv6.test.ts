// KAFKA_BROKERS=[::1]:9092 was accepted at boot, then kafkajs (which splits a broker at its
// first `:`) dialled host `[`: getaddrinfo ENOTFOUND after migrations had run. It is refused
// at boot naming the variable and saying to use a host name. The PostgreSQL bus, which reads
// DATABASE_URL (node-pg reads `[::1]`), is not affected. Real broker, real PostgreSQL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { type Bus, createBus } from '@vault/bus';
import { invoicingConfig } from '@vault/invoicing/config';
import { meteringConfig } from '@vault/metering/config';
import { ConfigError, parseConfig } from '@vault/runtime';
import { eventually, freePort, freshDatabase, testKafkaBrokers, uniqueName, vault } from '@vault/testkit';
import { VaultSettings } from '../scripts/cli/vault-settings.ts';

function problems(parse: () => unknown): string[] {
  try {
    parse();
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.variable}: ${p.message}`);
  }
}

const ipv6 = (entry: string) =>
  `KAFKA_BROKERS: ${JSON.stringify(entry)} is an IPv6 address, which the Kafka client cannot connect to: use a host name that resolves to it (localhost, or one in /etc/hosts or DNS)`;

interface Relay {
  port: number;
  connections(): number;
  /** Stops listening and cuts every connection it relays (a test's clients may leave one open). */
  close(): void;
}

/** A TCP relay listening on [::1] to `target` (host:port on IPv4), or undefined where this host has no IPv6 loopback. */
async function relayOnIpv6Loopback(target: string): Promise<Relay | undefined> {
  const colon = target.lastIndexOf(':');
  const [host, port] = [target.slice(0, colon), Number(target.slice(colon + 1))];
  let connections = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    connections++;
    const outbound = connect({ host, port });
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => resolve(true));
  });
  if (!listening) return undefined;
  return {
    port: (server.address() as { port: number }).port,
    connections: () => connections,
    close: () => {
      server.close();
      for (const s of open) s.destroy();
    },
  };
}

describe('KAFKA_BROKERS with an IPv6 address', () => {
  test('[::1]:9092, [2001:db8::1]:9092 and ::1:9092 are refused by every reader, naming the variable and saying to use a host name', () => {
    for (const entry of ['[::1]:9092', '[2001:db8::1]:9092', '[::ffff:127.0.0.1]:9092', '::1:9092']) {
      for (const value of [entry, `kafka-1:9092,${entry}`]) {
        const expected = [ipv6(entry)];
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
    }
    // Brackets around anything else are no host kafkajs can dial either.
    assert.deepEqual(
      problems(() => meteringConfig({ KAFKA_BROKERS: '[10.0.0.1]:9092' })),
      ['KAFKA_BROKERS: expected comma-separated host:port, got "[10.0.0.1]:9092"'],
    );
    // Names and IPv4 addresses, as before.
    assert.deepEqual(parseConfig(VaultSettings, { KAFKA_BROKERS: 'localhost:9092,10.0.0.1:9093,kafka-1.internal:9094' }).KAFKA_BROKERS, [
      'localhost:9092',
      '10.0.0.1:9093',
      'kafka-1.internal:9094',
    ]);
  });

  test('why: kafkajs cannot connect to a bracketed IPv6 address even where a broker answers there (a relay on [::1] to the real broker)', {
    timeout: 60_000,
  }, async (t) => {
    const relay = await relayOnIpv6Loopback(testKafkaBrokers()[0]!);
    if (!relay) return t.skip('no IPv6 loopback on this host');
    const admin = new Kafka({ brokers: [`[::1]:${relay.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    try {
      // The address answers TCP (what kafka-reach.ts probes), yet kafkajs dials the host `[`.
      await new Promise<void>((resolve, reject) => {
        const probe = connect({ host: '::1', port: relay.port }, () => {
          probe.destroy();
          resolve();
        }).once('error', reject);
      });
      await assert.rejects(admin.connect(), /getaddrinfo ENOTFOUND \[/);
    } finally {
      await admin.disconnect().catch(() => {});
      relay.close();
    }
  });

  test('`vault start metering` with KAFKA_BROKERS=[::1]:9092 exits 1 naming it, before the embedded PostgreSQL starts or migrations run', {
    timeout: 120_000,
  }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'vault-brokers-ipv6-'));
    try {
      const env = { VAULT_HOME: home, EMBEDDED_PG_PORT: String(await freePort()), METERING_PORT: String(await freePort()) };
      const r = await vault(['start', 'metering', '--no-demo'], { ...env, KAFKA_BROKERS: '[::1]:9092' });
      const out = r.stdout + r.stderr;
      assert.equal(r.status, 1, out);
      assert.equal(r.stderr, `vault: invalid configuration: ${ipv6('[::1]:9092')}\n`, out);
      assert.doesNotMatch(out, /postgres\.(initialise|started)|db\.migrated|event=start /, 'nothing started');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('the PostgreSQL bus is not affected: DATABASE_URL at [::1] is accepted, and the embedded bus publishes and delivers through it', {
    timeout: 120_000,
  }, async (t) => {
    const db = await freshDatabase('busipv6');
    const target = new URL(db.url);
    const relay = await relayOnIpv6Loopback(`${target.hostname}:${target.port}`);
    if (!relay) {
      await db.drop();
      return t.skip('no IPv6 loopback on this host');
    }
    const url = new URL(db.url);
    url.host = `[::1]:${relay.port}`;
    const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
    let bus: Bus | undefined;
    try {
      const settings = meteringConfig({
        DATABASE_URL: url.toString(),
        KAFKA_BROKERS: '',
        ADMIN_TOKEN: 'ipv6-test-admin-token-0123456789abcdef',
      });
      assert.equal(settings.KAFKA_BROKERS, undefined, 'no Kafka: the embedded bus');
      bus = await createBus({ kafkaBrokers: settings.KAFKA_BROKERS, clientId: 'ipv6', pool, databaseUrl: url.toString() });
      const topic = uniqueName('ipv6');
      await bus.ensureTopic(topic, 1);
      await bus.publish(topic, [{ key: 'k', value: 'over [::1]' }]);
      const got: string[] = [];
      const consumer = await bus.consume({
        topic,
        groupId: uniqueName('g'),
        eachBatch: async (batch) => {
          for (const m of batch.messages) got.push(String(m.value));
        },
      });
      await eventually('the message was delivered', () => got.length === 1, 30_000);
      await consumer.stop();
      assert.deepEqual(got, ['over [::1]']);
      assert.ok(relay.connections() > 0, 'every session went through [::1]');
    } finally {
      await bus?.close();
      await pool.end();
      relay.close();
      await db.drop();
    }
  });
});
