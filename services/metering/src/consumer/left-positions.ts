import type pg from 'pg';

/**
 * What bounds `metering.left_positions` (migration 024): a position left in an earlier incarnation
 * of a topic on the same cluster or embedded bus. A log id is `<cluster or bus>/<topic>/<incarnation>`
 * (bus.md, `LogIdentity`), the incarnation a random id given when the topic is made, never given
 * again: once the cluster holds another incarnation, the one left was deleted and no batch can come
 * from it again, so its position can never be resumed. A topic deleted and made again N times
 * leaves no row for the N dead incarnations; positions left on another cluster or bus (the embedded
 * bus, then Kafka, then the embedded bus again) are kept, as are those of a broker that names no
 * topic id (`-`: incarnations it cannot tell apart).
 */
export function incarnationOf(log: string): { prefix: string; incarnation: string } | undefined {
  const cut = log.lastIndexOf('/');
  if (cut < 0) return undefined;
  const incarnation = log.slice(cut + 1);
  if (incarnation === '' || incarnation === '-') return undefined;
  return { prefix: log.slice(0, cut + 1), incarnation };
}

/**
 * How long a row must have been left before a batch's log may forget it. A batch is named from
 * the bus's cached identity (up to 5 s old, kafka-consumer.ts), so another process's batch may
 * name an incarnation that is already dead and leave the live one's row just written: a row left
 * longer ago than this was left in an incarnation that existed then, and a name at most seconds
 * old that is another incarnation must be a newer one. So that row's incarnation is dead.
 */
export const FORGET_LEFT_AFTER = '1 minute';

/**
 * Deletes the positions left in `topic`'s other incarnations on `log`'s cluster or bus (one
 * partition's, or every partition's); how many. In the caller's transaction. `leftBefore`: only
 * rows left longer ago than this interval (a batch's log, which may be stale; metering's start
 * names the log it has just asked for, and forgets them all).
 */
export async function forgetDeadIncarnations(
  db: pg.Pool | pg.PoolClient,
  topic: string,
  log: string,
  partition?: number,
  leftBefore?: string,
): Promise<number> {
  const now = incarnationOf(log);
  if (now === undefined) return 0;
  const { rowCount } = await db.query(
    // left(), not like: a topic's name may hold `_`, which like takes as any character.
    `delete from metering.left_positions
      where topic = $1 and ($4::integer is null or partition = $4) and log <> $2
        and left(log, length($3)) = $3 and position('/' in substr(log, length($3) + 1)) = 0
        and substr(log, length($3) + 1) not in ('', '-')
        and ($5::interval is null or left_at < now() - $5::interval)`,
    [topic, log, now.prefix, partition ?? null, leftBefore ?? null],
  );
  return rowCount ?? 0;
}
