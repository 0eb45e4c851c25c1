import type pg from 'pg';

/** What one trim did to one partition. */
export interface TrimmedPartition {
  topic: string;
  partition: number;
  /** Messages deleted now. */
  deleted: number;
}

/** At most this many messages go in one statement, so each is a short transaction of its own. */
const CHUNK = 20_000;

/**
 * Deletes the oldest messages of one partition, up to CHUNK, below the point
 * every group of the topic still needs: for each group its committed offset − 1
 * (the message there is read again by a consumer that checks its position,
 * as metering does), 0 for a group with no commit in the partition, and 0 for
 * an offset past the partition's end (committed in another log before migration
 * 004 made a topic's delete forget its offsets: the group reads this one from
 * its start). No group at all: min() is null and nothing
 * is deleted. Commits only move forward, so a point read a moment ago is at
 * most too low, never too high.
 */
const TRIM_CHUNK = `
  with need as (
    select min(case when o.next_offset <= p.next_offset then o.next_offset else 0 end) - 1 as keep_from
      from bus.partitions p
      join bus.groups g on g.topic = p.topic
      left join bus.group_offsets o on o.group_id = g.group_id and o.topic = p.topic and o.partition = p.partition
     where p.topic = $1 and p.partition = $2
  ), first as (
    select min("offset") as first from bus.messages where topic = $1 and partition = $2
  )
  delete from bus.messages m using need, first
   where m.topic = $1 and m.partition = $2
     and m."offset" < need.keep_from and m."offset" < first.first + $3`;

/** Trims every partition of `topic`, one chunk per statement (autocommit): a crash keeps what was done. */
export async function trimTopic(pool: pg.Pool, topic: string): Promise<TrimmedPartition[]> {
  const { rows } = await pool.query<{ partition: number }>('select partition from bus.partitions where topic = $1 order by partition', [
    topic,
  ]);
  const result: TrimmedPartition[] = [];
  for (const { partition } of rows) {
    let deleted = 0;
    for (;;) {
      const { rowCount } = await pool.query(TRIM_CHUNK, [topic, partition, CHUNK]);
      deleted += rowCount ?? 0;
      // Offsets are dense, so a chunk that was not full took everything below the point.
      if ((rowCount ?? 0) < CHUNK) break;
    }
    result.push({ topic, partition, deleted });
  }
  return result;
}

export interface TrimLoop {
  stop(): Promise<void>;
}

/**
 * Trims `topics()` every `everyMs`, the wait counted from the end of a round so
 * rounds never pile up; a failed round is reported and the next goes on.
 */
export function startTrimLoop(o: {
  everyMs: number;
  topics: () => string[];
  trim: (topic: string) => Promise<unknown>;
  onError: (err: unknown) => void;
}): TrimLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();
  const schedule = () => {
    timer = setTimeout(() => {
      round = (async () => {
        for (const topic of o.topics()) {
          if (stopped) return;
          await o.trim(topic).catch(o.onError);
        }
      })().finally(() => {
        if (!stopped) schedule();
      });
    }, o.everyMs);
    // The trim alone never keeps a process alive.
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}
