import type pg from 'pg';
import type { Bus } from '@vault/bus';
import type { LogChange } from '@vault/contracts';

type Db = pg.Pool | pg.PoolClient;

/** What consumerLag compares positions with: the topic's log and its partitions' bounds, read from the bus. */
export interface LogEnds {
  log: string;
  bounds: { partition: number; start: string; end: string }[];
}

/** The log's identity and bounds now, read before any transaction (a call to the bus). */
export async function readLogEnds(bus: Bus, topic: string): Promise<LogEnds> {
  const [log, bounds] = await Promise.all([bus.describeLog(topic), bus.bounds(topic)]);
  return { log: log.id, bounds };
}

/**
 * Messages on the bus that metering has not applied: over the topic's
 * partitions, the log's end minus metering's stored position in that log
 * (PostgreSQL holds the true position; the group's bus offsets are only an
 * optimisation), or minus `read_to` when the offsets after the position are
 * known to hold no message (a transaction's markers: empty-offsets.ts). A
 * position stored for another log counts for nothing: that partition is read
 * again from its start. Messages the log no longer holds (below its start) are
 * not counted.
 */
export async function consumerLag(db: Db, topic: string, ends: LogEnds): Promise<number> {
  const { rows } = await db.query<{ partition: number; read: string }>(
    `select partition, greatest(next_offset, read_to)::text as read
       from metering.consumer_positions where topic = $1 and log = $2`,
    [topic, ends.log],
  );
  const stored = new Map(rows.map((r) => [r.partition, BigInt(r.read)]));
  let lag = 0n;
  for (const b of ends.bounds) {
    const from = [BigInt(b.start), stored.get(b.partition) ?? 0n].reduce((a, c) => (c > a ? c : a));
    const end = BigInt(b.end);
    if (end > from) lag += end - from;
  }
  return Number(lag);
}

/** The latest changes of log found, newest first (GET /v1/stats `log_changes`). */
export async function recentLogChanges(db: Db, limit = 50): Promise<LogChange[]> {
  const { rows } = await db.query<Omit<LogChange, 'detected_at'> & { detected_at: Date }>(
    `select detected_at, topic, partition, from_log, to_log, reason, action
       from metering.log_changes order by id desc limit $1`,
    [limit],
  );
  return rows.map((r) => ({ ...r, detected_at: r.detected_at.toISOString() }));
}
