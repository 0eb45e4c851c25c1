import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { billingStream, type StreamOptions } from './stream.ts';

/** Events per second of a kafkajs consumer that does nothing with the messages. */
export async function noopConsumerRate(brokers: string[], topic: string, total: number): Promise<number> {
  const kafka = new Kafka({ brokers, clientId: 'bench-noop', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-noop-${Date.now()}`, maxBytesPerPartition: 4 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let first = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now();
        seen += batch.messages.length;
        if (seen >= total) resolve(performance.now());
      },
    });
  });
  const last = await done;
  await consumer.disconnect();
  return total / ((last - first) / 1000);
}

/**
 * Milliseconds of a client-side `COPY ... FROM STDIN` of the stream's events
 * into a new table shaped like metering.events with its key beside each
 * event (the content hash and a primary key on (source, id), which
 * metering keeps in event_keys), and the same index:
 * the median of `runs`, each into a fresh table (the figure varies a lot on a
 * shared machine).
 */
export async function copyEventsMs(databaseUrl: string, stream: StreamOptions, runs = 3): Promise<number[]> {
  const rows = eventRows(stream);
  return withClient(databaseUrl, async (client) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await copyInto(client, 'metering.events', EVENT_COLUMNS, rows, EVENT_KEY));
    return times;
  });
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const EVENT_COLUMNS = '(source, id, type, subject, sequence, time, data, content_hash, received_at)';
const EVENT_KEY = 'content_hash text not null, primary key (source, id)';

async function withClient<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The stream's events (without re-sends) as COPY text, rendered before any clock starts. */
function eventRows(stream: StreamOptions): string[] {
  const chunks: string[] = [];
  let chunk = '';
  for (const m of billingStream({ ...stream, duplicateRate: 0 })) {
    const e = JSON.parse(m.value);
    chunk +=
      [e.source, e.id, e.type, e.subject, e.sequence, e.time, JSON.stringify(e.data), 'x'.repeat(64), new Date().toISOString()]
        .map((v) => String(v).replace(/[\\\t\n]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n' })[c]!))
        .join('\t') + '\n';
    if (chunk.length > 1 << 20) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  chunks.push(chunk);
  return chunks;
}

/** Milliseconds to COPY the rows into a new, empty table like `like` (all its keys and constraints) and `extra`. */
async function copyInto(client: pg.Client, like: string, columns: string, chunks: (string | Buffer)[], extra: string): Promise<number> {
  const table = `public.copy_${like.split('.').pop()}`;
  await client.query(`drop table if exists ${table}`);
  await client.query(`create table ${table} (like ${like} including all, ${extra})`);
  try {
    const started = performance.now();
    await pipeline(Readable.from(chunks), client.query(copyFrom(`copy ${table} ${columns} from stdin`)));
    return performance.now() - started;
  } finally {
    await client.query(`drop table ${table}`);
  }
}
