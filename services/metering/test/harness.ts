import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { createEmbeddedBus, createKafkaBus, type Batch, type Bus, type Consumer } from '@vault/bus';
import { migrate } from '@vault/db';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, freshDatabase, testKafkaBrokers, uniqueName, type TestDatabase } from '@vault/testkit';
import { meteringRoutes } from '../src/app.ts';
import { startConsumer } from '../src/consumer/consume.ts';
import type { BatchResult } from '../src/consumer/apply-batch.ts';
import { applyRefusing } from '../src/consumer/apply-messages.ts';
import { addMessageCounts, readBySource } from '../src/consumer/message-counts.ts';
import { judge } from '../src/domain/judge.ts';

/** The repository's copies of the platform's examples (october.ndjson, invalid.ndjson, …). */
export const EXAMPLES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
export const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
export const ADMIN = 'test-admin-token-metering-0123456789';
export const AUTH = { authorization: `Bearer ${ADMIN}` };

export const exampleText = (file: string) => readFileSync(EXAMPLES + file, 'utf8');
export const exampleLines = (file: string) =>
  exampleText(file)
    .split('\n')
    .filter((l) => l.trim() !== '');

export type BusKind = 'kafka' | 'embedded';

/** A metering database with its migrations, on the real test server. */
export async function meteringDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase('metering');
  await migrate(db.pool, 'metering', MIGRATIONS);
  return db;
}

/** A metering database with only the migrations before `first` (`NNN`): the rest is the test's to apply. */
/** Fresh metering databases made on demand (`db()`), all dropped by `dropAll()` (a file's `after`). */
export function meteringDatabases(): { db: () => Promise<TestDatabase>; dropAll: () => Promise<void> } {
  const made: TestDatabase[] = [];
  return {
    async db() {
      const d = await meteringDatabase();
      made.push(d);
      return d;
    },
    dropAll: async () => {
      await Promise.all(made.map((d) => d.drop()));
    },
  };
}

export async function meteringDatabaseBefore(name: string, first: string): Promise<TestDatabase> {
  const db = await freshDatabase(name);
  const older = await mkdtemp(join(tmpdir(), `metering-before-${first}-`));
  try {
    for (const file of await readdir(MIGRATIONS)) if (file < first) await cp(join(MIGRATIONS, file), join(older, file));
    await migrate(db.pool, 'metering', older);
  } finally {
    await rm(older, { recursive: true, force: true });
  }
  return db;
}

export async function openBus(kind: BusKind, db: TestDatabase): Promise<Bus> {
  return kind === 'kafka'
    ? createKafkaBus({ brokers: testKafkaBrokers(), clientId: uniqueName('metering-test') })
    : createEmbeddedBus({ pool: db.pool, url: db.url });
}

export interface Metering {
  db: TestDatabase;
  bus: Bus;
  topic: string;
  http: FastifyInstance;
  consumer: Consumer;
  /** The app's log lines (logfmt). */
  log: { lines: string[] };
  close(): Promise<void>;
}

export interface MadeBefore {
  /** The topic made before metering starts, as Kafka makes it by default (CreateTime). */
  topicMadeBefore?: boolean;
  /** Runs once the topic name is chosen (and made, with topicMadeBefore), before metering starts. */
  beforeStart?: (topic: string) => Promise<void>;
}

/**
 * The metering app in this process, on its own database, topic and consumer
 * group: the real routes and consumer over a real bus and PostgreSQL.
 */
export async function startMetering(kind: BusKind, options: MadeBefore = {}): Promise<Metering> {
  const db = await meteringDatabase();
  const bus = await openBus(kind, db);
  const topic = uniqueName('billing');
  // A topic someone else made (Kafka's defaults: CreateTime), not the one metering makes.
  if (options.topicMadeBefore) await bus.ensureTopic(topic, 3);
  await options.beforeStart?.(topic);
  const groupId = uniqueName('metering');
  const log = memoryLogger();
  const http = createHttpApp(log);
  meteringRoutes(http, { pool: db.pool, bus, topic, adminToken: ADMIN, groupId });
  const consumer = await startConsumer({ bus, pool: db.pool, topic, log, groupId, sessionTimeoutMs: 6_000 });
  await http.ready();
  return {
    db,
    bus,
    topic,
    http,
    consumer,
    log,
    close: async () => {
      await http.close();
      await consumer.stop();
      await bus.close();
      await db.drop();
    },
  };
}

/**
 * Metering on Kafka and, beside it, a kafkajs producer of the test's own on the
 * test broker, as a platform publisher sends; `close` ends both.
 */
export async function startPublishing(
  name: string,
  options: { topicMadeBefore?: boolean; beforeStart?: (topic: string, producer: Producer) => Promise<void> } = {},
): Promise<{ m: Metering; producer: Producer; close(): Promise<void> }> {
  const producer = new Kafka({ brokers: testKafkaBrokers(), clientId: uniqueName(name), logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const before = options.beforeStart;
  const m = await startMetering('kafka', {
    ...(options.topicMadeBefore ? { topicMadeBefore: true } : {}),
    ...(before ? { beforeStart: (topic: string) => before(topic, producer) } : {}),
  });
  return {
    m,
    producer,
    close: async () => {
      await producer.disconnect();
      await m.close();
    },
  };
}

export async function stats(m: Metering): Promise<Record<string, number>> {
  const res = await m.http.inject({ method: 'GET', url: '/v1/stats', headers: AUTH });
  return res.json();
}

/** Waits until the counters are these and the consumer has no lag; fails naming the last stats seen. */
export async function settled(m: Metering, applied: number, duplicates: number, rejected: number): Promise<void> {
  let last = {};
  await eventually(
    () => `stats ${applied}/${duplicates}/${rejected}, no lag; last ${JSON.stringify(last)}`,
    async () => {
      const s = (last = await stats(m));
      return s.events_applied === applied && s.events_duplicate === duplicates && s.events_rejected === rejected && s.consumer_lag === 0;
    },
    60_000,
  );
}

/** Usage as invoicing reads it (live and settled, migration 016), in a stable order, for comparing two runs. */
/** The settled usage's month tables, by name. */
export const settledTables = async (db: TestDatabase) =>
  (
    await db.pool.query<{ relname: string }>(
      `select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'metering' and c.relkind = 'r' and relname ~ '^settled_usage_[0-9]' order by 1`,
    )
  ).rows.map((r) => r.relname);

export async function usageOf(db: TestDatabase) {
  const intervals = await db.pool.query(
    `select subject, kind, app_id, key, product, lower(during)::text as from, upper(during)::text as to
       from (select subject, kind, app_id, key, product, during from metering.usage_intervals
             union all
             select subject, kind, app_id, key, product, during from metering.settled_usage) u
      order by subject, lower(during)`,
  );
  const owners = await db.pool.query(
    `select app_id, account_id, lower(during)::text as from, upper(during)::text as to
       from metering.app_ownership order by app_id, lower(during)`,
  );
  const gaps = await db.pool.query('select subject, missing_sequence::text from metering.subject_gaps order by subject');
  return { intervals: intervals.rows, owners: owners.rows, gaps: gaps.rows };
}

/** Messages as the bus hands one partition's batch to metering, offsets from `firstOffset`. */
export function busBatch(
  values: (string | Buffer)[],
  firstOffset = 0,
  partition = 0,
  timestamp = Date.parse('2026-11-01T00:00:00Z'),
): Batch {
  return {
    topic: 'billing',
    partition,
    highWatermark: String(firstOffset + values.length),
    log: 'test-log',
    messages: values.map((v, i) => ({
      topic: 'billing',
      partition,
      offset: String(firstOffset + i),
      key: 'k',
      value: Buffer.isBuffer(v) ? v : Buffer.from(v),
      timestamp,
    })),
  };
}

/** `n` dyno starts of their own subjects, ids from `prefix`: a batch's worth of new events. */
export const dynoStarts = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      specversion: '1.0',
      id: `${prefix}-${i}`,
      source: 'dyno-manager',
      type: 'dyno.started',
      time: '2026-10-20T00:00:00Z',
      subject: `${prefix}/web.${i}`,
      sequence: 1,
      data: { app_id: `app-${prefix}`, name: `web.${i}`, size: 'standard-1x' },
    }),
  );

/**
 * Raw events judged at `nowMs` and applied as one batch in a transaction of
 * its own, counters included: the consumer's batch path without a bus.
 */
export async function applyRaw(db: TestDatabase, raws: string[], nowMs: number): Promise<BatchResult & { isolated: boolean }> {
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    const judged = judge(
      raws.map((raw) => ({ bytes: Buffer.from(raw), receivedAtMs: nowMs })),
      nowMs,
    );
    const result = await applyRefusing(client, judged);
    await addMessageCounts(client, { log: 'test-log', topic: 'billing', partition: 0 }, readBySource(judged), result.bySource);
    await client.query('commit');
    return result;
  } finally {
    client.release();
  }
}
