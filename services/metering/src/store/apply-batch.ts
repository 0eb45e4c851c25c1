import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ID_REUSED_REASON } from '@vault/contracts';
import { clean, type InvalidInput, type Judged, type ValidInput } from '../domain/judge.ts';
import { deriveUsage } from './derive-usage.ts';
import { eventKey, storedHashes } from './stored-hashes.ts';

export interface BatchResult {
  applied: number;
  duplicates: number;
  /** Newly kept rejections (the same bytes rejected before count as duplicates). */
  rejected: InvalidInput[];
  /** Subjects whose usage was derived again. */
  subjects: number;
}

const key = eventKey;

/**
 * Applies one batch inside the caller's transaction: new events are stored,
 * duplicates counted, an id reused with other content rejected, and the usage
 * of every subject touched derived again. A fixed number of statements,
 * whatever the batch size.
 */
export async function applyBatch(client: pg.PoolClient, input: Judged): Promise<BatchResult> {
  const rejecting = [...input.invalid];
  let duplicates = 0;
  const fresh = new Map<string, ValidInput>();
  for (const item of input.valid) {
    const seen = fresh.get(key(item.event));
    if (!seen) fresh.set(key(item.event), item);
    else if (seen.contentHash === item.contentHash) duplicates++;
    else rejecting.push(reused(item));
  }

  const candidates = [...fresh.values()];
  const stored = await storedHashes(client, candidates.map((c) => c.event));
  const toInsert: ValidInput[] = [];
  for (const item of candidates) {
    const hash = stored.get(key(item.event));
    if (hash === undefined) toInsert.push(item);
    else if (hash === item.contentHash) duplicates++;
    else rejecting.push(reused(item));
  }

  const { rows: inserted } = await client.query<{ subject: string }>(
    `insert into metering.events (source, id, type, subject, sequence, time, data, content_hash)
     select x.source, x.id, x.type, x.subject, x.sequence, x.time, x.data, x.content_hash
       from jsonb_to_recordset($1::jsonb) as x(source text, id text, type text, subject text,
            sequence integer, time timestamptz, data jsonb, content_hash text)
     on conflict (source, id) do nothing
     returning subject`,
    [JSON.stringify(toInsert.map((i) => ({ ...i.event, content_hash: i.contentHash })))],
  );
  // A concurrent writer may have stored the same key between our read and insert.
  duplicates += toInsert.length - inserted.length;
  const subjects = [...new Set(inserted.map((r) => r.subject))];
  await deriveUsage(client, subjects);

  const rejected = await keepRejections(client, rejecting);
  duplicates += rejecting.length - rejected.length;
  await client.query(
    `update metering.counters c set value = c.value + d.n
       from (values ('events_applied', $1::bigint), ('events_duplicate', $2), ('events_rejected', $3)) d(name, n)
      where c.name = d.name`,
    [inserted.length, duplicates, rejected.length],
  );
  return { applied: inserted.length, duplicates, rejected, subjects: subjects.length };
}

/** Stores rejections whole; returns those not already kept (by their bytes). */
async function keepRejections(client: pg.PoolClient, rejecting: InvalidInput[]): Promise<InvalidInput[]> {
  if (rejecting.length === 0) return [];
  const byHash = new Map<string, InvalidInput>();
  for (const r of rejecting) byHash.set(rawHash(r.received.bytes), r);
  const { rows } = await client.query<{ raw_hash: string }>(
    `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, source, event_id, bus_position)
     select x.raw, decode(x.raw_base64, 'base64'), x.raw_hash, x.reasons, x.source, x.event_id, x.bus_position
       from jsonb_to_recordset($1::jsonb) as x(raw text, raw_base64 text, raw_hash text, reasons jsonb,
            source text, event_id text, bus_position text)
     on conflict (raw_hash) do nothing
     returning raw_hash`,
    [
      JSON.stringify(
        [...byHash].map(([hash, r]) => ({
          raw: readable(r.received.bytes),
          raw_base64: r.received.bytes.toString('base64'),
          raw_hash: hash,
          reasons: r.reasons.map((x) => ({ ...x, field: clean(x.field), message: clean(x.message) })),
          source: r.source,
          event_id: r.eventId,
          bus_position: r.received.position,
        })),
      ),
    ],
  );
  return rows.map((row) => byHash.get(row.raw_hash)!);
}

export function rawHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Text for reading; PostgreSQL text holds no NUL. The exact bytes are kept beside it. */
function readable(bytes: Buffer): string {
  return clean(bytes.toString('utf8'));
}

function reused(item: ValidInput): InvalidInput {
  return { received: item.received, reasons: [ID_REUSED_REASON], source: item.event.source, eventId: item.event.id };
}
