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
 * SQL for the trim point of partition (`topic`, `partition`: SQL expressions
 * of the enclosing query), the offset below which no group of the topic needs
 * a message. For each group its committed offset − 1 (the message there
 * is read again by a consumer that checks its position, as metering does), 0
 * for a group with no commit in the partition, and 0 for an offset past the
 * partition's end (committed in another log before migration 004 made a
 * topic's delete forget its offsets: the group reads this one from its start).
 * No group at all: null, and nothing is below it. Commits only move forward,
 * so a point read a moment ago is at most too low, never too high. Trimming
 * rows and dropping months (embedded-months.ts) share it: one rule.
 */
export function trimPointSql(topic: string, partition: string): string {
  return `(select min(case when ko.next_offset <= kp.next_offset then ko.next_offset else 0 end) - 1
             from bus.partitions kp
             join bus.groups kg on kg.topic = kp.topic
             left join bus.group_offsets ko
               on ko.group_id = kg.group_id and ko.topic = kp.topic and ko.partition = kp.partition
            where kp.topic = ${topic} and kp.partition = ${partition})`;
}

/** Deletes the oldest messages of one partition below its trim point, up to CHUNK. */
const TRIM_CHUNK = `
  with need as (
    select ${trimPointSql('$1', '$2')} as keep_from
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
 * Trims `topics()` every `everyMs`, then runs `maintain` (the log's monthly
 * partitions, after the trims so a month they emptied goes in the same round),
 * the wait counted from the end of a round so rounds never pile up; a failed
 * step is reported and the next goes on.
 */
export function startTrimLoop(o: {
  everyMs: number;
  topics: () => string[];
  trim: (topic: string) => Promise<unknown>;
  maintain?: () => Promise<unknown>;
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
        if (!stopped) await o.maintain?.().catch(o.onError);
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
