import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { migrate, withTransaction, type TransactionLog } from '@vault/db';
import type { Bus, ConsumeOptions, Consumer, OutgoingMessage } from './bus.ts';
import { EmbeddedConsumer } from './embedded-consumer.ts';
import { BUS_CHANNEL, EMBEDDED_LOG_ID } from './embedded-consumer-sql.ts';
import { maintainMonths } from './embedded-months.ts';
import { startTrimLoop, trimTopic, type TrimLoop, type TrimmedPartition } from './embedded-trim.ts';
import { partitionFor } from './partitioner.ts';

export const BUS_SCHEMA = 'bus';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export interface EmbeddedBusOptions {
  pool: pg.Pool;
  /** Connection string for the consumers' own sessions (they hold advisory locks). */
  url: string;
  log?: (event: string, fields?: Record<string, string | number>) => void;
  /**
   * Trims the topics this bus consumes every this many ms once it has a
   * consumer (see `trim`); unset: only when `trim` is called.
   */
  trimEveryMs?: number;
}

export interface EmbeddedBus extends Bus {
  readonly kind: 'embedded';
  /**
   * Deletes the messages of each partition of `topic` that every group of the
   * topic has read past, keeping each group's committed offset − 1; a topic no
   * group reads keeps everything (docs/contracts/bus.md, "Trimming").
   */
  trim(topic: string): Promise<TrimmedPartition[]>;
}

/** The embedded bus: a durable log in PostgreSQL, for when there is no Kafka. */
export async function createEmbeddedBus(opts: EmbeddedBusOptions): Promise<EmbeddedBus> {
  await migrate(opts.pool, BUS_SCHEMA, MIGRATIONS);
  const retries: TransactionLog = {
    warn: (event, fields = {}) => opts.log?.(event, Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)]))),
  };
  const partitionCounts = new Map<string, number>();
  const consumers = new Set<Consumer>();
  const consumedTopics = new Set<string>();
  let trimLoop: TrimLoop | undefined;

  async function trim(topic: string): Promise<TrimmedPartition[]> {
    const trimmed = await trimTopic(opts.pool, topic);
    const deleted = trimmed.reduce((n, t) => n + t.deleted, 0);
    opts.log?.('bus.trimmed', { topic, partitions: trimmed.length, 'count#bus.trimmed_messages': deleted });
    return trimmed;
  }

  async function partitionsOf(topic: string): Promise<number> {
    const known = partitionCounts.get(topic);
    if (known) return known;
    const { rows } = await opts.pool.query<{ partitions: number }>('select partitions from bus.topics where topic = $1', [topic]);
    if (!rows[0]) throw new Error(`topic ${topic} does not exist on the embedded bus`);
    partitionCounts.set(topic, rows[0].partitions);
    return rows[0].partitions;
  }

  return {
    kind: 'embedded',
    async ensureTopic(topic, partitions) {
      await opts.pool.query(
        `with t as (insert into bus.topics (topic, partitions) values ($1, $2)
                    on conflict (topic) do nothing returning topic, partitions)
         insert into bus.partitions (topic, partition)
         select t.topic, p from t, generate_series(0, t.partitions - 1) p`,
        [topic, partitions],
      );
    },
    async publish(topic, messages, options) {
      if (messages.length === 0) return;
      if (messages.some((m) => m.headers && Object.keys(m.headers).length > 0)) {
        throw new Error(`the embedded bus keeps no record headers: publish to ${topic} without them (or through Kafka)`);
      }
      const all = await partitionsOf(topic);
      const byPartition = groupByPartition(messages, Math.min(all, options?.partitions ?? all));
      await withTransaction(
        opts.pool,
        async (client) => {
          // Partitions in ascending order: two publishers never deadlock.
          for (const [partition, batch] of [...byPartition].sort((a, b) => a[0] - b[0])) {
            await appendToPartition(client, topic, partition, batch);
          }
          await client.query('select pg_notify($1, $2)', [BUS_CHANNEL, topic]);
        },
        { name: 'bus.publish', log: retries },
      );
    },
    async consume(options: ConsumeOptions) {
      const consumer = new EmbeddedConsumer({
        url: opts.url,
        partitions: await partitionsOf(options.topic),
        options,
        ...(opts.log ? { log: opts.log } : {}),
      });
      consumers.add(consumer);
      await consumer.start();
      consumedTopics.add(options.topic);
      if (opts.trimEveryMs !== undefined && !trimLoop) {
        trimLoop = startTrimLoop({
          everyMs: opts.trimEveryMs,
          topics: () => [...consumedTopics],
          trim,
          maintain: () => maintainMonths(opts.pool, opts.log),
          onError: (err) => opts.log?.('bus.trim_failed', { error: err instanceof Error ? err.message : String(err) }),
        });
      }
      return consumer;
    },
    async lag(topic, groupId) {
      const { rows } = await opts.pool.query<{ lag: string }>(
        `select coalesce(sum(p.next_offset - coalesce(o.next_offset, 0)), 0)::text as lag
           from bus.partitions p
           left join bus.group_offsets o
             on o.group_id = $2 and o.topic = p.topic and o.partition = p.partition
          where p.topic = $1`,
        [topic, groupId],
      );
      return Number(rows[0]?.lag ?? 0);
    },
    async describeLog(topic) {
      const { rows } = await opts.pool.query<{ id: string; partitions: number }>(
        `select ${EMBEDDED_LOG_ID} as id, t.partitions from bus.topics t where t.topic = $1`,
        [topic],
      );
      if (!rows[0]) throw new Error(`topic ${topic} does not exist on the embedded bus`);
      return rows[0];
    },
    async bounds(topic) {
      // A partition trimmed of everything (never: trim keeps a message) or never written starts at its end.
      const { rows } = await opts.pool.query<{ partition: number; start: string; end: string }>(
        `select p.partition, p.next_offset::text as end,
                coalesce((select min(m."offset") from bus.messages m where m.topic = p.topic and m.partition = p.partition),
                         p.next_offset)::text as start
           from bus.partitions p where p.topic = $1 order by p.partition`,
        [topic],
      );
      return rows.map((r) => ({ partition: r.partition, start: r.start, end: r.end }));
    },
    trim,
    async close() {
      await trimLoop?.stop();
      trimLoop = undefined;
      await Promise.all([...consumers].map((c) => c.stop()));
    },
  };
}

function groupByPartition(messages: OutgoingMessage[], partitions: number) {
  const byPartition = new Map<number, OutgoingMessage[]>();
  for (const message of messages) {
    const p = partitionFor(message.key, partitions);
    const list = byPartition.get(p) ?? [];
    list.push(message);
    byPartition.set(p, list);
  }
  return byPartition;
}

async function appendToPartition(client: pg.PoolClient, topic: string, partition: number, batch: OutgoingMessage[]): Promise<void> {
  const { rows } = await client.query<{ first: string }>(
    `update bus.partitions set next_offset = next_offset + $3
      where topic = $1 and partition = $2
      returning (next_offset - $3)::text as first`,
    [topic, partition, batch.length],
  );
  const first = rows[0]?.first;
  if (first === undefined) throw new Error(`partition ${topic}/${partition} is missing`);
  await client.query(
    `insert into bus.messages (topic, partition, "offset", key, value)
     select $1, $2, $3::bigint + i - 1, k, v
       from unnest($4::text[], $5::bytea[]) with ordinality as m(k, v, i)`,
    [
      topic,
      partition,
      first,
      batch.map((m) => m.key),
      batch.map((m) => (typeof m.value === 'string' ? Buffer.from(m.value, 'utf8') : m.value)),
    ],
  );
}
