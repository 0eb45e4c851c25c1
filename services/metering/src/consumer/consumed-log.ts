import type pg from 'pg';
import type { Bus, LogIdentity } from '@vault/bus';
import { withTransaction } from '@vault/db';
import type { Logger } from '@vault/runtime';
import { forgetDeadIncarnations } from './left-positions.ts';
import { REREAD_ACTION } from './log-position.ts';

/**
 * Compares the topic's log now with the one metering consumed when it last
 * started, records any change (metering.log_changes) and logs it. Nothing is
 * decided here: each partition's position is judged at its first batch
 * (log-position.ts), resumed where metering left it if it read this log before. Partitions added to the same log keep the positions of
 * the others, which are still theirs; the new ones are read from their start.
 */
export async function noteLog(pool: pg.Pool, bus: Bus, topic: string, log: Logger): Promise<LogIdentity> {
  const now = await bus.describeLog(topic);
  const change = await withTransaction(
    pool,
    async (client) => {
      const { rows } = await client.query<{ log: string; partitions: number }>(
        'select log, partitions from metering.consumed_logs where topic = $1 for update',
        [topic],
      );
      const before = rows[0];
      await client.query(
        `insert into metering.consumed_logs (topic, log, partitions) values ($1, $2, $3)
         on conflict (topic) do update set log = excluded.log, partitions = excluded.partitions, seen_at = now()`,
        [topic, now.id, now.partitions],
      );
      // Positions left in the topic's earlier incarnations here (before this bound, or while stopped): never resumed.
      await forgetDeadIncarnations(client, topic, now.id);
      const left = before && before.log !== now.id ? await leftIn(client, topic, now.id) : 0;
      const found = before && judge(before, now, left);
      if (!found) return undefined;
      await client.query(
        `insert into metering.log_changes (topic, partition, from_log, to_log, reason, action) values ($1, null, $2, $3, $4, $5)`,
        [topic, before.log, now.id, found.reason, found.action],
      );
      return { ...found, from: before.log };
    },
    { name: 'metering.note_log' },
  );
  if (change) log.warn('metering.log_changed', { topic, from: change.from, to: now.id, reason: change.reason, action: change.action });
  log.info('metering.log', { topic, log: now.id, partitions: now.partitions });
  return now;
}

/** Partitions of `topic` whose position metering left in `log` (log-position.ts): they resume there. */
async function leftIn(client: pg.PoolClient, topic: string, log: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    'select count(*)::int as n from metering.left_positions where topic = $1 and log = $2',
    [topic, log],
  );
  return rows[0]?.n ?? 0;
}

function judge(
  before: { log: string; partitions: number },
  now: LogIdentity,
  left: number,
): { reason: string; action: string } | undefined {
  if (before.log !== now.id) {
    const reason = 'another log than when metering last started';
    if (left === 0) return { reason, action: `every partition ${REREAD_ACTION}` };
    return {
      reason,
      action: `${left} partition(s) resume where metering left this log; every other partition ${REREAD_ACTION}`,
    };
  }
  if (before.partitions !== now.partitions) {
    return {
      reason: `partitions ${before.partitions} → ${now.partitions} in the same log`,
      action: 'the positions of the partitions that were there are kept; new partitions are read from their start',
    };
  }
  return undefined;
}
