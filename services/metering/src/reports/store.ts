import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { formatReasons, type PartitionCounts, type Reason, type RejectedEvent, type SourceCounts, type SubjectGap } from '@vault/contracts';
import { rawHash, REJECTIONS_LOCK } from '../consumer/apply-batch.ts';

type Totals = Record<'events_applied' | 'events_duplicate' | 'events_rejected', number>;

/**
 * Counters since the database was created (without the bus's lag): the
 * partitions' counts summed, plus what was counted before they existed
 * (`counters`, migration 015).
 */
export async function readCounters(pool: pg.Pool): Promise<Totals> {
  return (await readMessageCounts(pool)).totals;
}

/**
 * How the messages read ended, per source and per partition, and the totals:
 * the rows of `metering.message_counts` summed three ways in one statement
 * (plus the counts from before migration 007), so all of them are of one
 * moment. The source '' (none readable) is shown as null, last.
 */
export async function readMessageCounts(
  db: pg.Pool | pg.PoolClient,
): Promise<{ totals: Totals; sources: SourceCounts[]; partitions: PartitionCounts[] }> {
  const { rows } = await db.query<{
    grouped: number;
    source: string | null;
    log: string | null;
    topic: string | null;
    partition: number | null;
    read: string;
    applied: string;
    duplicate: string;
    rejected: string;
  }>(
    `select grouping(m.source, m.topic, m.log, m.partition) as grouped, m.source, m.log, m.topic, m.partition,
            coalesce(sum(m.read), 0)::text as read,
            (coalesce(sum(m.applied), 0) + case when grouping(m.source, m.topic, m.log, m.partition) = 15 then b.applied else 0 end)::text as applied,
            (coalesce(sum(m.duplicate), 0) + case when grouping(m.source, m.topic, m.log, m.partition) = 15 then b.duplicate else 0 end)::text as duplicate,
            (coalesce(sum(m.rejected), 0) + case when grouping(m.source, m.topic, m.log, m.partition) = 15 then b.rejected else 0 end)::text as rejected
       from (select coalesce(sum(value) filter (where name = 'events_applied'), 0) as applied,
                    coalesce(sum(value) filter (where name = 'events_duplicate'), 0) as duplicate,
                    coalesce(sum(value) filter (where name = 'events_rejected'), 0) as rejected
               from metering.counters) b
       left join metering.message_counts m on true
      group by grouping sets ((m.source), (m.topic, m.log, m.partition), ()), b.applied, b.duplicate, b.rejected
      order by m.source = '', m.source, m.topic, m.log, m.partition`,
  );
  const counts = (r: (typeof rows)[number]) => ({
    read: Number(r.read),
    applied: Number(r.applied),
    duplicate: Number(r.duplicate),
    rejected: Number(r.rejected),
  });
  // grouping(): a bit per column summed over, source first: 7 by source, 8 by partition, 15 the total.
  const total = rows.find((r) => r.grouped === 15)!;
  const withRows = rows.filter((r) => r.grouped !== 15 && (r.grouped === 7 ? r.source !== null : r.log !== null));
  return {
    totals: { events_applied: Number(total.applied), events_duplicate: Number(total.duplicate), events_rejected: Number(total.rejected) },
    sources: withRows.filter((r) => r.grouped === 7).map((r) => ({ source: r.source === '' ? null : r.source, ...counts(r) })),
    partitions: withRows
      .filter((r) => r.grouped === 8)
      .map((r) => ({ log: r.log!, topic: r.topic!, partition: r.partition!, ...counts(r) })),
  };
}

interface RejectedRow {
  id: string;
  received_at: Date;
  raw: string;
  raw_base64: string | null;
  reasons: Reason[];
  source: string | null;
  event_id: string | null;
  bus_position: string | null;
  resolved_at: Date | null;
  resolved_by: string | null;
}

// The exact bytes only when `raw` is not them, compared here: never fetched just to compare.
const REJECTED_COLUMNS = `r.id::text, r.received_at, r.raw,
  case when convert_to(r.raw, 'UTF8') = r.raw_bytes then null else encode(r.raw_bytes, 'base64') end as raw_base64,
  r.reasons, r.source, r.event_id, r.bus_position, r.resolved_at, r.resolved_by`;

/**
 * A page's budget of kept bytes: rows stop once those before them pass it (at
 * least one row). 1000 rows of 64 KiB, escaped six-fold as JSON, were ~375 MiB.
 */
export const REJECTED_PAGE_BYTES = 4 * 1024 * 1024;

const STATUS = { pending: 'r.resolved_at is null', resolved: 'r.resolved_at is not null', all: 'true' };

/**
 * One page's statement: the ids and sizes up to the limit (the status's partial
 * index, migration 021, or the primary key), cut by the byte budget, then the
 * rows kept. Ordered by the bigint column itself: `order by id` would name the
 * selected `id::text` and sort '10' before '2', while `id > $1` compares
 * numbers, so pages skipped rejections. `fetched`: rows before the cut.
 */
export function rejectedPageSql(status: keyof typeof STATUS): string {
  return `with page as materialized (
            select r.id, octet_length(r.raw_bytes) as size from metering.rejected_events r
             where r.id > $1::bigint and ${STATUS[status]} order by r.id limit $2
          )
          select ${REJECTED_COLUMNS}, (select count(*) from page)::int as fetched
            from (select id, sum(size) over (order by id) - size as before from page) p
            join metering.rejected_events r on r.id = p.id
           where p.before < $3
           order by r.id`;
}

/**
 * One page of rejections after the id `after` (a decimal string), and the id
 * to page on from: the last one's when the page is full or was cut by bytes.
 */
export async function listRejected(
  pool: pg.Pool,
  q: { status: 'pending' | 'resolved' | 'all'; limit: number; after: string },
): Promise<{ rejected: RejectedEvent[]; nextAfter: string | null }> {
  const { rows } = await pool.query<RejectedRow & { fetched: number }>(rejectedPageSql(q.status), [q.after, q.limit, REJECTED_PAGE_BYTES]);
  const more = rows.length > 0 && (rows[0]!.fetched === q.limit || rows.length < rows[0]!.fetched);
  return { rejected: rows.map(toRejected), nextAfter: more ? rows.at(-1)!.id : null };
}

export async function getRejected(pool: pg.Pool, id: string): Promise<RejectedEvent | undefined> {
  if (!/^\d{1,18}$/.test(id)) return undefined;
  const { rows } = await pool.query<RejectedRow>(`select ${REJECTED_COLUMNS} from metering.rejected_events r where r.id = $1`, [id]);
  return rows[0] ? toRejected(rows[0]) : undefined;
}

/** The event a re-submit published: its key, its content, its bytes. */
export interface Resubmitted {
  source: string;
  id: string;
  /** Unset when the event was stored already (a duplicate): the store refuses no copy of it. */
  contentHash?: string | undefined;
  bytes: Buffer;
}

/**
 * A re-submit's last step: the kept rejection `id` marked resolved by the event
 * it published, unless the consumer already refused that event (its claim
 * refused with this content, its key never stored). Then the row stays
 * pending and the answer is the reasons kept for those bytes (the row itself
 * when re-submitted as it was: keepRejections gave it the store's), or null.
 *
 * Under the rejections' lock (REJECTIONS_LOCK), then in a statement of its own
 * (a snapshot taken once the lock is held): a batch refusing the event decides
 * "duplicate of a pending row" and marks the claim under that lock, until its
 * commit. So either it committed before (its refused claim is seen: not
 * resolved) or it keeps its rejections after (it sees the row resolved and
 * reopens it, apply-batch.ts): the event is never lost between the two. In one
 * statement without the lock, both would decide on snapshots taken before the
 * other's commit. The lock order is the consumer's (apply-messages.ts).
 */
export async function markResolved(
  pool: pg.Pool,
  id: string,
  by: string,
  event: Resubmitted,
): Promise<{ resolved: true } | { resolved: false; reasons: Reason[] | null }> {
  return withTransaction(
    pool,
    async (client) => {
      await client.query('select pg_advisory_xact_lock($1)', [REJECTIONS_LOCK]);
      const { rows } = await client.query<{ resolved: boolean; reasons: Reason[] | null }>(
        `with resolved as (
           update metering.rejected_events r
              set resolved_at = coalesce(r.resolved_at, now()), resolved_by = coalesce(r.resolved_by, $2)
            where r.id = $1
              and not exists (
                select from metering.intake_claims c
                 where c.source = $3 and c.id = $4 and c.refused and c.content_hash = $5
                   and not exists (select from metering.event_keys k where k.source = c.source and k.id = c.id))
           returning r.id)
         select exists (select from resolved) as resolved,
                (select k.reasons from metering.rejected_events k where k.raw_hash = $6) as reasons`,
        [id, by, event.source, event.id, event.contentHash ?? null, rawHash(event.bytes)],
      );
      const row = rows[0]!;
      return row.resolved ? { resolved: true as const } : { resolved: false as const, reasons: row.reasons };
    },
    { name: 'metering.resolve' },
  );
}

function toRejected(r: RejectedRow): RejectedEvent {
  return {
    id: r.id,
    received_at: r.received_at.toISOString(),
    raw: r.raw,
    raw_base64: r.raw_base64,
    reason: formatReasons(r.reasons),
    reasons: r.reasons,
    source: r.source,
    event_id: r.event_id,
    bus_position: r.bus_position,
    resolved_at: r.resolved_at?.toISOString() ?? null,
    resolved_by: r.resolved_by,
  };
}

/** One page of subjects with a hole, in subject order from after `q.after` (the start when unset). */
export async function listGaps(pool: pg.Pool, q: { limit: number; after?: string | undefined }): Promise<SubjectGap[]> {
  const { rows } = await pool.query<{
    subject: string;
    app_id: string | null;
    missing_sequence: string;
    unreliable_from: Date | null;
    detected_at: Date;
  }>(
    `select subject, app_id, missing_sequence::text, unreliable_from, detected_at from metering.subject_gaps
      where $1::text is null or subject > $1 order by subject limit $2`,
    [q.after ?? null, q.limit],
  );
  return rows.map((r) => ({
    subject: r.subject,
    app_id: r.app_id,
    missing_sequence: r.missing_sequence,
    unreliable_from: r.unreliable_from?.toISOString() ?? null,
    detected_at: r.detected_at.toISOString(),
  }));
}
