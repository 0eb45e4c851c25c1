import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually, freePort, freshDatabase, testKafkaBrokers, uniqueName, vault, type TestDatabase } from '@vault/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));
const examples = fileURLToPath(new URL('fixtures/', import.meta.url));
const ADMIN = 'publish-test-admin-token-0123456789abcdef';

describe('`vault publish` puts NDJSON on the real Kafka topic that a running metering consumes', () => {
  let db: TestDatabase;
  let metering: ChildProcess;
  let env: NodeJS.ProcessEnv;
  let port: number;
  before(async () => {
    db = await freshDatabase('publish');
    port = await freePort();
    env = {
      ...process.env,
      DATABASE_URL: db.url,
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      BILLING_EVENTS_TOPIC: uniqueName('publish-billing'),
      METERING_CONSUMER_GROUP: uniqueName('metering'),
      METERING_PORT: String(port),
      ADMIN_TOKEN: ADMIN,
    };
    metering = spawn(process.execPath, ['bin/vault.js', 'start', 'metering'], { cwd: root, env, stdio: 'ignore' });
  });
  after(async () => {
    const closed = new Promise((r) => metering.once('close', r));
    metering.kill('SIGINT');
    await closed;
    await db.drop();
  });

  const publish = (args: string[], input?: string) => vault(['publish', ...args], env, input);

  async function stats(): Promise<Record<string, number> | undefined> {
    const res = await fetch(`http://127.0.0.1:${port}/v1/stats`, { headers: { authorization: `Bearer ${ADMIN}` } }).catch(() => undefined);
    return res?.ok ? ((await res.json()) as Record<string, number>) : undefined;
  }

  test('october from a file, again, then invalid from stdin: counts, line numbers and exit status', { timeout: 120_000 }, async () => {
    const first = await publish([examples + 'october.ndjson']);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /published 15 lines to \S+ \(kafka bus\): 13 accepted, 2 duplicate, 0 rejected/);
    await eventually('metering to apply october', async () => (await stats())?.events_applied === 13, 60_000);

    const again = await publish([examples + 'october.ndjson']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /0 accepted, 15 duplicate, 0 rejected/);

    const bad = await publish([], readFileSync(examples + 'invalid.ndjson', 'utf8'));
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /10 rejected/);
    const lines = bad.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('line '));
    assert.equal(lines.length, 10, bad.stderr);
    assert.match(bad.stderr, /^line 1\b.*: /m);

    await eventually(
      'metering to count it all',
      async () => {
        const s = await stats();
        return s?.events_applied === 13 && s.events_duplicate === 17 && s.events_rejected === 10 && s.consumer_lag === 0;
      },
      60_000,
    );
  });

  test('a missing file is a failure (exit 1), not a usage error (exit 2)', async () => {
    const r = await publish(['/nonexistent.ndjson']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read \/nonexistent.ndjson/);
  });
});
