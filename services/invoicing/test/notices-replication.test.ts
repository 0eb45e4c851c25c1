// The notices topic made by the publisher on a cluster of two brokers holds a
// copy of each partition on both (replication factor min(3, brokers)), not one
// copy on one broker that takes the notices with it when it is lost. A cluster
// of its own (two JVMs on free ports: one controller and broker, one broker), so
// the broker the other test files share never has a member come and go.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { withTransaction } from '@vault/db';
import { ensureKafkaFetched, startKafka, stopKafka } from '@vault/kafka-local';
import { memoryLogger } from '@vault/runtime';
import { eventually, freePort, freshDatabase, uniqueName, type TestDatabase } from '@vault/testkit';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { accountNotice } from '../src/notices/notice.ts';
import { recordNotices } from '../src/notices/outbox.ts';
import { startNoticePublisher } from '../src/notices/publisher.ts';

const HOST = '127.0.0.1';

/** Runs `java` with Kafka's jars to completion; throws with its output when it fails. */
function java(args: string[], out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', args, { stdio: ['ignore', openSync(out, 'a'), openSync(out, 'a')] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`java ${args.at(-1)} exited ${code}; see ${out}`))));
  });
}

describe('the notices topic on a cluster of two brokers (real Kafka)', { timeout: 240_000 }, () => {
  const dir = join(tmpdir(), uniqueName('notices-two-brokers'));
  let db: TestDatabase;
  let admin: Admin | undefined;
  let second: ChildProcess | undefined;
  const brokers: string[] = [];

  before(async () => {
    db = await freshDatabase('notices_replication');
    await ensureInvoicingSchema(db.pool);
    const [port, controllerPort, secondPort] = [await freePort(), await freePort(), await freePort()];
    await startKafka({ stateDir: join(dir, 'one'), port, controllerPort, timeoutMs: 90_000 });
    brokers.push(`${HOST}:${port}`, `${HOST}:${secondPort}`);
    admin = new Kafka({ brokers: [brokers[0]!], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const { clusterId } = await admin.describeCluster();
    // A second node, broker only, of the first one's cluster (its controller).
    const two = join(dir, 'two');
    mkdirSync(two, { recursive: true });
    const config = join(two, 'server.properties');
    const props = {
      'process.roles': 'broker',
      'node.id': 2,
      'controller.quorum.voters': `1@${HOST}:${controllerPort}`,
      listeners: `PLAINTEXT://${HOST}:${secondPort}`,
      'advertised.listeners': `PLAINTEXT://${HOST}:${secondPort}`,
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name': 'PLAINTEXT',
      'controller.listener.names': 'CONTROLLER',
      'log.dirs': join(two, 'data'),
      'auto.create.topics.enable': 'false',
    };
    writeFileSync(
      config,
      `${Object.entries(props)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n')}\n`,
    );
    const { classpath } = await ensureKafkaFetched();
    const jvm = ['-Xms128m', '-Xmx384m', '-XX:+UseG1GC', '-Djava.awt.headless=true', '-cp', classpath];
    const out = join(two, 'stdout.log');
    await java([...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', config], out);
    second = spawn('java', [...jvm, 'kafka.Kafka', config], { stdio: ['ignore', openSync(out, 'a'), openSync(out, 'a')] });
    await eventually('two brokers in the cluster', async () => (await admin!.describeCluster()).brokers.length === 2, 90_000);
  });

  after(async () => {
    await admin?.disconnect();
    if (second && second.exitCode === null) {
      const gone = new Promise((r) => second!.once('exit', r));
      second.kill('SIGTERM');
      const timer = setTimeout(() => second!.kill('SIGKILL'), 20_000);
      await gone;
      clearTimeout(timer);
    }
    await stopKafka({ stateDir: join(dir, 'one') });
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  test('the publisher creates it with a copy of every partition on both brokers, and publishes to it', async () => {
    const topic = uniqueName('billing-notices');
    const notices = Array.from({ length: 20 }, (_, i) => accountNotice('account.suspended', `acct-${i % 5}`, i + 1, new Date()));
    await withTransaction(db.pool, (client) => recordNotices(client, notices));
    const publisher = startNoticePublisher({ pool: db.pool, brokers, topic, log: memoryLogger(), everyMs: 100 });
    try {
      await eventually(
        'the notices published',
        async () => (await db.pool.query('select 1 from invoicing.notices where published_at is null')).rowCount === 0,
        60_000,
      );
    } finally {
      await publisher.stop();
    }
    const { topics } = await admin!.fetchTopicMetadata({ topics: [topic] });
    const partitions = topics[0]!.partitions;
    assert.equal(partitions.length, 3);
    for (const p of partitions) assert.deepEqual([...p.replicas].sort(), [1, 2], `partition ${p.partitionId}: one copy on each broker`);
    const ends = await admin!.fetchTopicOffsets(topic);
    assert.equal(
      ends.reduce((n, p) => n + Number(p.high), 0),
      20,
    );
  });
});
