// Metering pointed at a log that changed under it (log-*.test.ts): the real
// consumer and routes in this process, on a database that outlives them.
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { Bus, Consumer } from '@vault/bus';
import { MeteringStats } from '@vault/contracts';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import type { StreamMessage } from '../bench/stream.ts';
import { meteringRoutes } from '../src/app.ts';
import { applyMessages } from '../src/consumer/apply-messages.ts';
import { startConsumer } from '../src/consumer/consume.ts';
import { readCounters } from '../src/reports/store.ts';
import { ADMIN, AUTH, meteringDatabase, usageOf } from './harness.ts';

export interface Run {
  lines: string[];
  stats(): Promise<MeteringStats>;
  /** Until the consumer has read `messages` in all (applied + duplicate + rejected) and its lag is 0. */
  drained(messages: number): Promise<MeteringStats>;
  stop(): Promise<void>;
}

/** Metering's consumer and routes on `db`, reading `topic` on `bus`, until stopped. */
export async function runMetering(db: TestDatabase, bus: Bus, topic: string, groupId: string): Promise<Run> {
  const log = memoryLogger();
  const http = createHttpApp(log);
  meteringRoutes(http, { pool: db.pool, bus, topic, adminToken: ADMIN, groupId });
  const consumer: Consumer = await startConsumer({ bus, pool: db.pool, topic, log, groupId, sessionTimeoutMs: 6_000 });
  await http.ready();
  const stats = async () => MeteringStats.parse((await http.inject({ method: 'GET', url: '/v1/stats', headers: AUTH })).json());
  return {
    lines: log.lines,
    stats,
    async drained(messages) {
      let last: MeteringStats | undefined;
      await eventually(
        () => `${messages} messages read with no lag; last stats ${JSON.stringify(last)}`,
        async () => {
          last = await stats();
          return last.consumer_lag === 0 && last.events_applied + last.events_duplicate + last.events_rejected >= messages;
        },
        90_000,
      );
      return last!;
    },
    async stop() {
      await consumer.stop();
      await http.close();
    },
  };
}

/**
 * The same messages, in the same order, through metering's store in one clean
 * pass on a database of its own: the usage and counters every run must end with.
 */
export async function cleanPass(messages: StreamMessage[]) {
  const clean = await meteringDatabase();
  try {
    await applyInOrder(clean.pool, messages);
    return { counters: await readCounters(clean.pool), usage: await usageOf(clean) };
  } finally {
    await clean.drop();
  }
}

/** Every event applied exactly once: the clean pass's counters and usage, to the row. */
export async function assertExactlyOnce(db: TestDatabase, final: MeteringStats, messages: StreamMessage[]): Promise<void> {
  const expected = await cleanPass(messages);
  assert.deepEqual(
    { applied: final.events_applied, duplicate: final.events_duplicate, rejected: final.events_rejected },
    { applied: expected.counters.events_applied, duplicate: expected.counters.events_duplicate, rejected: 0 },
  );
  assert.deepEqual(await usageOf(db), expected.usage);
}

/** The messages applied in order as one partition of a log of their own, no crash: the reference run. */
export async function applyInOrder(pool: pg.Pool, messages: StreamMessage[], log = 'clean'): Promise<void> {
  for (let i = 0; i < messages.length; i += 2_000) {
    const chunk = messages.slice(i, i + 2_000);
    await applyMessages(pool, {
      topic: 'clean',
      partition: 0,
      highWatermark: String(i + chunk.length),
      log,
      messages: chunk.map((m, j) => ({
        topic: 'clean',
        partition: 0,
        offset: String(i + j),
        key: m.key,
        value: Buffer.from(m.value),
        timestamp: Date.now(),
      })),
    });
  }
}
