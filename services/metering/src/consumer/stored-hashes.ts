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
  const { rows } = await db.query<{ source: string; id: string; content_hash: string }>({
    name: 'metering.stored-hashes',
    text: `select k.source, k.id, encode(e.content_hash, 'hex') as content_hash
       from unnest($1::text[], $2::text[]) as k(source, id)
       cross join lateral (
         select content_hash from metering.event_keys e where e.source = k.source and e.id = k.id limit 1
       ) e`,
    values: [arrayLiteral(keys.map((k) => k.source)), arrayLiteral(keys.map((k) => k.id))],
  });
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

/** ArchiveBounds, and which subjects have a history. */
export interface BatchBounds extends ArchiveBounds {
  /**
   * Of the subjects asked about, those with events stored or archived: only
   * these can have usage to clear or events to read back. The rest are new.
   */
  known: Set<string>;
}

type BoundsRow = {
  horizon: Date | null;
  subject: string | null;
  archived: boolean;
  closed: boolean;
  last_sequence: number;
  frozen_before: Date | null;
  service: string | null;
};

const ARCHIVED = `select a.subject, true as archived, a.closed, a.last_sequence, a.frozen_before, a.service
                    from metering.archived_subjects a where a.subject = any($1::text[])`;

/**
 * One statement for both. The caller holds the horizon's shared lock
 * (lockSubjects), taken by an earlier statement: this one's snapshot sees the
 * horizon a move committed before the lock was granted.
 */
export async function archiveBounds(db: pg.Pool | pg.PoolClient, subjects: string[]): Promise<ArchiveBounds> {
  if (subjects.length === 0) return { subjects: new Map(), horizon: null };
  const { rows } = await db.query<BoundsRow>({
    name: 'metering.archive-bounds',
    text: `select h.starts as horizon, x.*
             from (select (select starts from metering.billable_horizon) as starts) h
             left join (${ARCHIVED}) x on true`,
    values: [arrayLiteral([...new Set(subjects)])],
  });
  return bounds(rows);
}

/**
 * archiveBounds, and which subjects have a history, in the same statement: a
 * subject seen in a sealed month (subject_months) or with an event in an
 * unsealed one, an index probe each (migration 014). The caller holds the
 * subjects' locks (lockSubjects), so no batch stores a first event of one of
 * them before it commits. A new subject (most of a stream) is then neither
 * cleared nor read back: three index probes fewer each.
 */
export async function batchBounds(db: pg.PoolClient, subjects: string[]): Promise<BatchBounds> {
  if (subjects.length === 0) return { subjects: new Map(), horizon: null, known: new Set() };
  const { rows } = await db.query<BoundsRow>({
    name: 'metering.batch-bounds',
    text: `select h.starts as horizon, x.*
             from (select (select starts from metering.billable_horizon) as starts,
                          (select month from metering.events_sealed_before) as unsealed) h
             left join lateral (
               ${ARCHIVED}
               union all
               -- An archived subject may come twice: it is known either way.
               select s.subject, false, null, null, null, null
                 from unnest($1::text[]) s(subject)
                cross join lateral (
                  select from metering.subject_months m where m.subject = s.subject
                  union all
                  -- Ordered as the index is: a plain index scan, not the bitmap scan (with its
                  -- setup per subject) PostgreSQL picks for a bare probe of the young month.
                  (select from metering.events e where e.subject = s.subject and e.stored_month >= h.unsealed
                    order by e.sequence limit 1)
                  limit 1
                ) k
             ) x on true`,
    values: [arrayLiteral([...new Set(subjects)])],
  });
  const known = new Set<string>();
  for (const r of rows) if (r.subject !== null) known.add(r.subject);
  return { ...bounds(rows), known };
}

function bounds(rows: BoundsRow[]): ArchiveBounds {
  const archived = new Map<string, ArchivedSubject>();
  for (const r of rows) {
    if (r.subject === null || !r.archived) continue;
    archived.set(r.subject, { closed: r.closed, lastSequence: r.last_sequence, frozenBefore: r.frozen_before, service: r.service });
  }
  return { subjects: archived, horizon: rows[0]?.horizon ?? null };
}
