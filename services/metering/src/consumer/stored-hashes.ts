import type pg from 'pg';
import { arrayLiteral } from '@vault/db';

export type EventKey = { source: string; id: string };
export const eventKey = (e: EventKey) => `${e.source}\u0000${e.id}`;

/** Content hashes of the events already stored, by `eventKey`. */
export async function storedHashes(db: pg.Pool | pg.PoolClient, keys: EventKey[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  // One index probe per key: the `limit` keeps the planner from turning the
  // lookup into a hash join over the whole table. The keys outlive the
  // payloads (migration 013): an archived event is known here too.
  const { rows } = await db.query<{ source: string; id: string; content_hash: string }>(
    `select k.source, k.id, encode(e.content_hash, 'hex') as content_hash
       from unnest($1::text[], $2::text[]) as k(source, id)
       cross join lateral (
         select content_hash from metering.event_keys e where e.source = k.source and e.id = k.id limit 1
       ) e`,
    [arrayLiteral(keys.map((k) => k.source)), arrayLiteral(keys.map((k) => k.id))],
  );
  return new Map(rows.map((r) => [eventKey(r), r.content_hash]));
}

/** What is archived of a subject (migration 011, 012). */
export interface ArchivedSubject {
  /** Closed: every event archived, and none may follow its last. */
  closed: boolean;
  /** How many of its events are archived: a new one numbered up to this is refused. */
  lastSequence: number;
  /** Open: its first kept event's time, from which its usage is derived again. */
  frozenBefore: Date | null;
  /** An add-on's service, from its archived first event. */
  service: string | null;
}

/** What bounds a batch's new events: its subjects' archived events, and the usage horizon. */
export interface ArchiveBounds {
  /** Of the subjects asked about, those with archived events. */
  subjects: Map<string, ArchivedSubject>;
  /** The usage horizon's first instant (migration 018): an event timed before it is refused. Null: none yet. */
  horizon: Date | null;
}

/**
 * One statement for both. The caller holds the horizon's shared lock
 * (lockSubjects), taken by an earlier statement: this one's snapshot sees the
 * horizon a move committed before the lock was granted.
 */
export async function archiveBounds(db: pg.Pool | pg.PoolClient, subjects: string[]): Promise<ArchiveBounds> {
  if (subjects.length === 0) return { subjects: new Map(), horizon: null };
  const { rows } = await db.query<{
    horizon: Date | null;
    subject: string | null;
    closed: boolean;
    last_sequence: number;
    frozen_before: Date | null;
    service: string | null;
  }>(
    `select h.starts as horizon, a.subject, a.closed, a.last_sequence, a.frozen_before, a.service
       from (select (select starts from metering.billable_horizon) as starts) h
       left join metering.archived_subjects a on a.subject = any($1::text[])`,
    [[...new Set(subjects)]],
  );
  const archived = new Map<string, ArchivedSubject>();
  for (const r of rows) {
    if (r.subject === null) continue;
    archived.set(r.subject, { closed: r.closed, lastSequence: r.last_sequence, frozenBefore: r.frozen_before, service: r.service });
  }
  return { subjects: archived, horizon: rows[0]?.horizon ?? null };
}
