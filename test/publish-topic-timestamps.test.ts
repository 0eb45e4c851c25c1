// `vault publish` to a broker without the events topic makes it as metering does: broker-stamped
// (LogAppendTime). It used to make it with Kafka's default (CreateTime, the producer's stamp), so
// a publish or simulate run before metering's first start left the topic producer-stamped for good.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { freshDatabase, testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('`vault publish` on Kafka, the events topic missing', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('publish_topic_ts');
  });
  after(() => db.drop());

  test('one line published: the topic it made is message.timestamp.type=LogAppendTime', { timeout: 120_000 }, async () => {
    const topic = uniqueName('publish-ts');
    const line = JSON.stringify({
      specversion: '1.0',
      id: `${topic}-1`,
      source: 'dyno-manager',
      type: 'dyno.started',
      time: new Date(Date.now() - 60_000).toISOString(),
      subject: `${topic}-dyno`,
      sequence: 1,
      data: { app_id: 'app-ts', name: 'web.1', size: 'standard-1x' },
    });
    const child = spawn(process.execPath, ['bin/vault.js', 'publish'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, KAFKA_BROKERS: testKafkaBrokers().join(','), BILLING_EVENTS_TOPIC: topic },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.end(`${line}\n`);
    const code = await exited;
    assert.equal(code, 0, out);

    const admin = new Kafka({ brokers: testKafkaBrokers(), clientId: uniqueName('publish-ts'), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        resources: [{ type: 2, name: topic, configNames: ['message.timestamp.type'] }],
        includeSynonyms: false,
      });
      assert.equal(resources[0]!.configEntries[0]?.configValue, 'LogAppendTime');
    } finally {
      await admin.disconnect();
    }
  });
});
