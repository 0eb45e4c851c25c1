// The notices publisher's stop while its broker is silent (the JVM stopped with SIGSTOP: it holds
// its connections and its port, and answers nothing). The stop waited for the tick's send, which
// kafkajs gives 30 s a request and retries: SIGTERM outlasted the app's stop bound (20 s) and the
// process ended as a failed stop, its database sessions held. Now the stop is bounded, the send
// cut and logged (`notices.stop_cut`); what it was sending is published again at the next start.
// A broker of this test's own (real Kafka), real PostgreSQL.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { withTransaction } from '@vault/db';
import { startKafka, stopKafka } from '@vault/kafka-local';
import { memoryLogger } from '@vault/runtime';
import { eventually, freePort, freshDatabase, uniqueName, type TestDatabase } from '@vault/testkit';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { accountNotice } from '../src/notices/notice.ts';
import { recordNotices } from '../src/notices/outbox.ts';
import { NOTICES_STOP_WITHIN_MS, startNoticePublisher } from '../src/notices/publisher.ts';

describe('the notices publisher stopped while its broker is silent (a broker of its own, real Kafka)', { timeout: 240_000 }, () => {
  const dir = join(tmpdir(), uniqueName('notices-silent'));
  let db: TestDatabase;
  let pid: number | undefined;
  let brokers: string[];

  before(async () => {
    db = await freshDatabase('notices_silent');
    await ensureInvoicingSchema(db.pool);
    const started = await startKafka({ stateDir: dir, port: await freePort(), controllerPort: await freePort(), timeoutMs: 90_000 });
    pid = started.pid;
    brokers = [started.brokers];
  });

  after(async () => {
    if (pid !== undefined) process.kill(-pid, 'SIGCONT');
    await stopKafka({ stateDir: dir });
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  const record = (account: string, n: number) =>
    withTransaction(db.pool, (client) => recordNotices(client, [accountNotice('account.suspended', account, n, new Date())]));
  const unpublished = async () => (await db.pool.query('select 1 from invoicing.notices where published_at is null')).rowCount;

  test('its stop ends within its bound, logs the cut, and lets go of its database sessions; the notice is published by the next publisher', async () => {
    const topic = uniqueName('billing-notices');
    const log = memoryLogger();
    await record('acct-1', 1);
    const publisher = startNoticePublisher({ pool: db.pool, brokers, topic, log, everyMs: 100 });
    let stopped = false;
    try {
      await eventually('the first notice published', async () => (await unpublished()) === 0, 60_000);
      process.kill(-pid!, 'SIGSTOP');
      await record('acct-2', 2);
      publisher.wake();
      // The tick is sending to the silent broker.
      await new Promise((r) => setTimeout(r, 2_000));
      const started = performance.now();
      const stop = publisher.stop().then(() => (stopped = true));
      await Promise.race([stop, new Promise((r) => setTimeout(r, NOTICES_STOP_WITHIN_MS + 5_000))]);
      const took = performance.now() - started;
      assert.ok(stopped, `stopped within ${NOTICES_STOP_WITHIN_MS + 5_000} ms (still stopping after ${took.toFixed(0)} ms)`);
      assert.equal(log.lines.filter((l) => l.includes('event=notices.stop_cut')).length, 1, log.lines.join('\n'));
      // No session of the pool is held by the cut tick: the app's db.close() would wait for it.
      await eventually('the pool idle', () => db.pool.totalCount === db.pool.idleCount, 5_000);
    } finally {
      process.kill(-pid!, 'SIGCONT');
      if (!stopped) await publisher.stop();
    }
    assert.equal(await unpublished(), 1, 'the cut send is not counted as published');
    const next = startNoticePublisher({ pool: db.pool, brokers, topic, log: memoryLogger(), everyMs: 100 });
    try {
      await eventually('the notice published by the next publisher', async () => (await unpublished()) === 0, 60_000);
    } finally {
      await next.stop();
    }
  });
});
