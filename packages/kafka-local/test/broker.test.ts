// End to end: a real broker from the Maven Central jars (uses the shared download cache).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { ensureKafkaFetched, KAFKA_VERSION, kafkaStatus, startKafka, stopKafka } from '../src/index.ts';
import { portOpen } from '../src/probe.ts';

function listenOn(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

const close = (srv: net.Server) => new Promise<void>((r) => srv.close(() => r()));

/** A free port whose +1 neighbour (the controller port) is free too. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const a = await listenOn(0);
    if (!a) continue;
    const port = (a.address() as net.AddressInfo).port;
    const b = await listenOn(port + 1);
    await close(a);
    if (b) {
      await close(b);
      return port;
    }
  }
  throw new Error('no free port pair found');
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

test('local kafka broker: start, produce/consume, reuse, stop', { timeout: 180_000 }, async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-local-test-'));
  const port = await freePortPair();
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  t.after(async () => {
    await stopKafka({ stateDir }).catch(() => {});
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  // Two starts at once take turns: one starts the broker, the other reuses it. Without the
  // lock both spawned one; the loser died on the port and removed the winner's pidfile.
  const both = await Promise.all([startKafka({ stateDir, port, log }), startKafka({ stateDir, port, log })]);
  const first = both.find((r) => !r.reused)!;
  assert.ok(first, JSON.stringify(both));
  assert.deepEqual(both.map((r) => r.reused).sort(), [false, true], 'one started it, the other reused it');
  assert.equal(new Set(both.map((r) => r.pid)).size, 1, 'one broker');
  assert.equal(first.brokers, `127.0.0.1:${port}`);
  assert.equal(Number(fs.readFileSync(path.join(stateDir, 'kafka.pid'), 'utf8').trim()), first.pid, 'its pidfile names it');
  assert.ok(fs.existsSync(path.join(stateDir, 'kafka.pid')));
  assert.ok(
    lines.some((l) => l.includes('msg="kafka ready"')),
    lines.join('\n'),
  );

  await t.test('answers: create a topic, produce and consume one message', async () => {
    const kafka = new Kafka({ clientId: 'kafka-local-test', brokers: [first.brokers], logLevel: logLevel.NOTHING });
    const topic = 'kafka-local-smoke';
    const admin = kafka.admin();
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
    await admin.disconnect();

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'hello from kafka-local' }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'kafka-local-test' });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = new Promise<string>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? '') });
    });
    try {
      assert.equal(await withTimeout(received, 60_000, 'consume'), 'hello from kafka-local');
    } finally {
      await consumer.disconnect();
    }
  });

  await t.test('a second start reuses the running broker', async () => {
    const again = await startKafka({ stateDir, port, log });
    assert.deepEqual(again, { ...first, reused: true });
    assert.deepEqual(await kafkaStatus({ stateDir }), { running: true, pid: first.pid, brokers: first.brokers, ready: true });
  });

  await t.test('once fetched, the jars come from the cache without Maven', async () => {
    const path0 = process.env.PATH;
    process.env.PATH = '/nonexistent'; // no mvn, no java: only the cache can answer
    try {
      const fetched = await ensureKafkaFetched({});
      assert.equal(fetched.version, KAFKA_VERSION);
      assert.ok(fs.readdirSync(fetched.libDir).some((f) => f.startsWith('kafka_2.13-')));
    } finally {
      process.env.PATH = path0;
    }
  });

  await t.test('stop ends the broker and frees the port', async () => {
    assert.equal(await stopKafka({ stateDir, log }), true);
    assert.equal(await portOpen('127.0.0.1', port), false);
    assert.equal(fs.existsSync(path.join(stateDir, 'kafka.pid')), false);
    assert.deepEqual(await kafkaStatus({ stateDir }), { running: false });
    assert.equal(await stopKafka({ stateDir, log }), false, 'stopping twice is a no-op');
  });
});
