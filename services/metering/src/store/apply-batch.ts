import type pg from 'pg';
import { ID_REUSED_REASON, type BillingEvent, type Reason } from '@vault/contracts';
import { deriveUsage } from './derive-usage.ts';

/** A message that parsed as a valid event. */
export interface ValidInput {
  event: BillingEvent;
  contentHash: string;
  /** The message exactly as received, kept if it must be rejected after all. */
  raw: string;
}

/** A message that broke the contract. */
export interface InvalidInput {
  raw: string;
  reasons: Reason[];
  source?: string | undefined;
  eventId?: string | undefined;
}

export interface BatchInput {
  origin: 'bus' | 'http';
  valid: ValidInput[];
  invalid: InvalidInput[];
}

export interface BatchResult {
  applied: number;
  duplicates: number;
  rejected: InvalidInput[];
}

const key = (e: { source: string; id: string }) => `${e.source}\u0000${e.id}`;

/**
 * Applies one batch in one transaction: new events are stored, duplicates
 * counted, an id reused with other content rejected, and the usage of every
 * subject touched derived again. The caller commits its bus offset only after
 * this resolves, so a crash in between replays the batch into duplicates.
 */
export async function applyBatch(client: pg.PoolClient, input: BatchInput): Promise<BatchResult> {
  const rejected = [...input.invalid];
  let duplicates = 0;
  const fresh = new Map<string, ValidInput>();
  for (const item of input.valid) {
    const seen = fresh.get(key(item.event));
    if (!seen) fresh.set(key(item.event), item);
    else if (seen.contentHash === item.contentHash) duplicates++;
    else rejected.push(reused(item));
  }

  const candidates = [...fresh.values()];
  const { rows: existing } = await client.query<{ source: string; id: string; content_hash: string }>(
    `select e.source, e.id, e.content_hash
       from metering.events e
       join unnest($1::text[], $2::text[]) as k(source, id) using (source, id)`,
    [candidates.map((c) => c.event.source), candidates.map((c) => c.event.id)],
  );
  const stored = new Map(existing.map((r) => [key(r), r.content_hash]));
  const toInsert: ValidInput[] = [];
  for (const item of candidates) {
    const hash = stored.get(key(item.event));
    if (hash === undefined) toInsert.push(item);
    else if (hash === item.contentHash) duplicates++;
    else rejected.push(reused(item));
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
  // A concurrent consumer may have stored the same key between our read and insert.
  duplicates += toInsert.length - inserted.length;
  await deriveUsage(client, [...new Set(inserted.map((r) => r.subject))]);

  if (rejected.length > 0) {
    await client.query(
      `insert into metering.rejected_events (origin, raw, reasons, source, event_id)
       select $1, x.raw, x.reasons, x.source, x.event_id
         from jsonb_to_recordset($2::jsonb) as x(raw text, reasons jsonb, source text, event_id text)`,
      [
        input.origin,
        JSON.stringify(rejected.map((r) => ({ raw: r.raw, reasons: r.reasons, source: r.source, event_id: r.eventId }))),
      ],
    );
  }
  await client.query(
    `update metering.counters c set value = c.value + d.n
       from (values ('events_applied', $1::bigint), ('events_duplicate', $2), ('events_rejected', $3)) d(name, n)
      where c.name = d.name`,
    [inserted.length, duplicates, rejected.length],
  );
  return { applied: inserted.length, duplicates, rejected };
}

function reused(item: ValidInput): InvalidInput {
  return { raw: item.raw, reasons: [ID_REUSED_REASON], source: item.event.source, eventId: item.event.id };
}
