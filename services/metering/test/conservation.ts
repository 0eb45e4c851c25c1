// Conservation checks for the crash and fault suites: what metering counted
// (metering.message_counts) against what the bus itself holds, read with
// kafkajs directly rather than through the code under test.
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import type pg from 'pg';
import type { PartitionCounts, SourceCounts } from '@vault/contracts';
import { eventually, uniqueName } from '@vault/testkit';
import { readMessageCounts } from '../src/reports/store.ts';

/** The source a message names, as the judge reads it: null when it has no readable, non-empty one. */
export function sourceOf(value: string | Buffer | null): string | null {
  try {
    const parsed: unknown = JSON.parse(value?.toString() ?? '');
    const source = (parsed as { source?: unknown } | null)?.source;
    return typeof source === 'string' && source !== '' ? source : null;
  } catch {
    return null;
  }
}

export function countBy<T>(items: Iterable<T>, key: (t: T) => string | null): Map<string | null, number> {
  const counts = new Map<string | null, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/**
 * Messages each partition holds: its high watermark. The Vault's producer is
 * idempotent and never transactional, so every offset below it is a message.
 */
export async function heldPerPartition(brokers: string[], topic: string): Promise<Map<number, number>> {
  const admin = new Kafka({ clientId: 'conservation-check', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    for (const o of offsets) assert.equal(o.low, '0', `partition ${o.partition} still holds its first message`);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Every message on the topic, read back from its start in a group of its own, counted by source. */
export async function sourcesOnTopic(brokers: string[], topic: string): Promise<Map<string | null, number>> {
  const held = [...(await heldPerPartition(brokers, topic)).values()].reduce((a, b) => a + b, 0);
  const consumer = new Kafka({ clientId: 'conservation-check', brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: uniqueName('conservation-check'),
  });
  const values: (Buffer | null)[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) values.push(m.value);
      },
    });
    await eventually(
      () => `the topic read back (${values.length} of ${held})`,
      () => values.length >= held,
      120_000,
    );
  } finally {
    await consumer.disconnect();
  }
  return countBy(values, sourceOf);
}

/** Each row holds `read = applied + duplicate + rejected`. */
export function assertEachConserved(rows: (SourceCounts | PartitionCounts)[]): void {
  for (const r of rows) assert.equal(r.applied + r.duplicate + r.rejected, r.read, `conserved: ${JSON.stringify(r)}`);
}

/**
 * Per partition of `topic`, read = applied + duplicate + rejected = the
 * messages it holds; per source, read = applied + duplicate + rejected = the
 * messages published for it. Waits for the counts to reach the bus's first
 * (the caller has seen the consumer caught up, but a last batch may commit).
 */
export async function assertConservation(
  pool: pg.Pool,
  topic: string,
  want: { held: Map<number, number>; sources: Map<string | null, number> },
): Promise<{ sources: SourceCounts[]; partitions: PartitionCounts[] }> {
  const heldOf = (counts: PartitionCounts[]) => new Map(counts.filter((p) => p.topic === topic).map((p) => [p.partition, p.read]));
  let counts = await readMessageCounts(pool);
  await eventually(
    () => `every partition read: ${JSON.stringify([...heldOf(counts.partitions)])} of ${JSON.stringify([...want.held])}`,
    async () => {
      counts = await readMessageCounts(pool);
      return [...want.held].every(([p, n]) => (heldOf(counts.partitions).get(p) ?? 0) >= n);
    },
    60_000,
  );
  const partitions = counts.partitions.filter((p) => p.topic === topic);
  assertEachConserved(partitions);
  assertEachConserved(counts.sources);
  assert.equal(new Set(partitions.map((p) => p.log)).size, 1, `one log of ${topic}: ${JSON.stringify(partitions)}`);
  assert.deepEqual(heldOf(partitions), new Map([...want.held].filter(([, n]) => n > 0)), 'per partition, read = the messages it holds');
  assert.deepEqual(
    new Map(counts.sources.map((s) => [s.source, s.read])),
    want.sources,
    'per source, read = the messages published for it',
  );
  return counts;
}
