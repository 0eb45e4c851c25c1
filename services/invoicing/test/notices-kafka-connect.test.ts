// The notices publisher against the real Kafka broker when the topic cannot be
// made (an invalid name: the broker refuses CreateTopics, as it would without
// the ACL or under a policy): every tick fails, and each must close the Kafka
// clients it connected, or the process runs out of sockets. Counted from the
// kernel's own table of this process's TCP connections to the broker.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createKafkaBus, type Bus } from '@vault/bus';
import { memoryLogger } from '@vault/runtime';
import { eventually, freshDatabase, testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { startNoticePublisher } from '../src/notices/publisher.ts';

/** This process's established TCP connections to `port` (/proc/net/tcp{,6} by socket inode, matched to our fds). */
function connectionsTo(port: number): number {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const remotePort = Number.parseInt(cols[2]!.split(':')[1]!, 16);
      if (remotePort === port && cols[3] === '01') inodes.add(cols[9]!);
    }
  }
  let mine = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (inodes.has(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? '')) mine++;
    } catch {}
  }
  return mine;
}

describe('the notices publisher when the topic cannot be made (real Kafka broker)', () => {
  let db: TestDatabase;
  // Every bus the publisher made, closed again at the end: leaked ones would keep this file running.
  const made: Bus[] = [];
  before(async () => {
    db = await freshDatabase('notices_connect');
    await ensureInvoicingSchema(db.pool);
  });
  after(async () => {
    await Promise.all(made.map((b) => b.close().catch(() => {})));
    await db?.drop();
  });

  test('each failing tick closes the Kafka clients it connected: the connections to the broker do not grow, and none is left after stop', async (t) => {
    const brokers = testKafkaBrokers();
    const port = Number(brokers[0]!.split(':').at(-1));
    assert.equal(connectionsTo(port), 0, 'no connection to the broker before the publisher');
    const log = memoryLogger();
    // Spaces are not allowed in a topic's name: the broker answers CreateTopics INVALID_TOPIC_EXCEPTION.
    const topic = uniqueName('billing notices');
    // The Kafka bus the publisher makes by default, only kept here too.
    const bus = async () => {
      const b = await createKafkaBus({ brokers, clientId: 'vault-invoicing-notices' });
      made.push(b);
      return b;
    };
    const publisher = startNoticePublisher({ pool: db.pool, brokers, topic, log, everyMs: 50, bus });
    const failures = () => log.lines.filter((l) => l.includes('event=notices.publish_failed')).length;
    const seen: number[] = [];
    try {
      await eventually(
        () => `12 failed ticks (${failures()})`,
        () => {
          seen.push(connectionsTo(port));
          return failures() >= 12;
        },
        60_000,
      );
    } finally {
      await publisher.stop();
    }
    // Refused by the broker after connecting: the case where the clients were left open.
    assert.match(log.lines.find((l) => l.includes('event=notices.publish_failed')) ?? '', /error="Topic creation errors"/);
    // One bus at a time: an admin and a producer, each with a connection or two while it is made.
    const most = Math.max(...seen);
    t.diagnostic(`${failures()} failed ticks; at most ${most} connections to the broker at once`);
    assert.ok(most <= 6, `at most one bus's connections at a time, not one per failed tick (${seen.join(' ')})`);
    await eventually(
      () => `no connection to the broker left after stop (${connectionsTo(port)})`,
      () => connectionsTo(port) === 0,
      10_000,
    );
  });
});
