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
 * Rows per second of a client-side `COPY ... FROM STDIN` of the same events
 * into a table shaped like metering.events (same primary key and index).
 */
export async function copyRate(databaseUrl: string, stream: StreamOptions): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('create table public.copy_events (like metering.events including all)');
    // The rows are rendered before the clock starts: only the COPY is measured.
    const chunks: string[] = [];
    let chunk = '';
    for (const m of billingStream({ ...stream, duplicateRate: 0 })) {
      const e = JSON.parse(m.value);
      chunk += [e.source, e.id, e.type, e.subject, e.sequence, e.time, JSON.stringify(e.data), 'x'.repeat(64), new Date().toISOString()]
        .map((v) => String(v).replace(/[\\\t\n]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n' })[c]!))
        .join('\t') + '\n';
      if (chunk.length > 1 << 20) {
        chunks.push(chunk);
        chunk = '';
      }
    }
    chunks.push(chunk);
    const started = performance.now();
    await pipeline(Readable.from(chunks), client.query(copyFrom('copy copy_events (source, id, type, subject, sequence, time, data, content_hash, received_at) from stdin')));
    return stream.events / ((performance.now() - started) / 1000);
  } finally {
    await client.end();
  }
}
