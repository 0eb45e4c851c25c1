// The floor of the mandatory work, measured piece by piece in the same run:
// judging every message (parse, validate, content hash), and writing the
// usage metering derived into its own tables, under their unique index and
// the non-overlap trigger, a batch per transaction as metering commits them.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { judge, type Received } from '../src/domain/judge.ts';
import { billingStream, type StreamOptions } from './stream.ts';

const BATCH = 2_000;

/** Milliseconds to judge the stream's messages (re-sends included) in batches as metering does. */
export function judgeMs(stream: StreamOptions): number {
  const batches: Received[][] = [];
  let batch: Received[] = [];
  const now = Date.now();
  for (const m of billingStream(stream)) {
    batch.push({ bytes: Buffer.from(m.value), receivedAtMs: now });
    if (batch.length === BATCH) {
      batches.push(batch);
      batch = [];
    }
  }
  batches.push(batch);
  const started = performance.now();
  for (const b of batches) judge(b, now);
  return performance.now() - started;
}

/**
 * Milliseconds of a `COPY` of the usage intervals and ownership metering
 * derived for the stream (`prefix`), under other subjects, into metering's
 * own tables (their keys and the non-overlap trigger), 2,000 rows per
 * transaction. With the events' COPY, what PostgreSQL must write whatever
 * metering does.
 */
export async function copyUsageMs(databaseUrl: string, prefix: string): Promise<{ ms: number; rows: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const like = `${prefix}-`.replace(/[^a-z0-9-]/gi, '');
    const usage = await copyOut(
      client,
      `select subject || '~floor', kind, app_id, key, product, during, learned_at from metering.usage_intervals where subject like '${like}%'`,
    );
    const owners = await copyOut(
      client,
      `select app_id || '~floor', account_id, during, learned_at from metering.app_ownership where app_id like '${like}%'`,
    );
    const started = performance.now();
    for (let i = 0; i < usage.length; i += BATCH) {
      await copyIn(client, 'metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)', usage.slice(i, i + BATCH));
    }
    for (let i = 0; i < owners.length; i += BATCH) {
      await copyIn(client, 'metering.app_ownership (app_id, account_id, during, learned_at)', owners.slice(i, i + BATCH));
    }
    return { ms: performance.now() - started, rows: usage.length + owners.length };
  } finally {
    await client.end();
  }
}

async function copyOut(client: pg.Client, query: string): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of client.query(copyTo(`copy (${query}) to stdout`))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

async function copyIn(client: pg.Client, target: string, lines: string[]): Promise<void> {
  await pipeline(Readable.from([`${lines.join('\n')}\n`]), client.query(copyFrom(`copy ${target} from stdin`)));
}
