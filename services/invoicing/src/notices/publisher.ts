// Publishes the notices' outbox to Kafka (`BILLING_NOTICES_TOPIC`) when
// KAFKA_BROKERS is set: at least once, in position order, each keyed by its
// account (an account's notices share a partition, so keep their order).
// How far each log (the topic's incarnation, describeLog's id) holds the
// notices is kept per log (`notices_logs`), moved only after the broker
// acknowledged them (acks=all): a kill in between publishes them again, with
// the same id and body. A log not seen before (the topic deleted and created
// again, another cluster or topic) gets every notice again, from the first.
import type pg from 'pg';
import { busEventLevel, createKafkaBus, type Bus } from '@vault/bus';
import { LOOP_LOCK_WAIT_MS, LockBusy, withSessionLock } from '@vault/db';
import { startLoop, type Loop, type Logger } from '@vault/runtime';
import { sequenceNotices } from './outbox.ts';
import { NOTICE_KAFKA_HEADERS } from './notice.ts';
import { PublishLockWait } from './lock-wait.ts';
import { BusCut, NOTICES_CUT_WAIT_MS, NOTICES_STOP_WITHIN_MS, settledWithin } from './stop-cut.ts';

export { NOTICES_STOP_WITHIN_MS } from './stop-cut.ts';

// One publisher at a time across processes: two would publish each notice twice.
export const PUBLISH_LOCK = 0x76_6e_70_62; // "vnpb"
const BATCH = 500;
const PARTITIONS = 3;
/** How often an idle publisher asks for the topic's log again: a topic created again is found within this. */
const LOG_CHECK_MS = 5_000;

export interface NoticePublisherDeps {
  pool: pg.Pool;
  brokers: string[];
  topic: string;
  log: Logger;
  everyMs?: number;
  /** How long a tick waits for another process's publish to end (default LOOP_LOCK_WAIT_MS). */
  lockWaitMs?: number;
  /** Tests: a bus of their own; default, the Kafka bus made (and remade after a failure) here. */
  bus?: () => Promise<Bus>;
}

/** A log of the topic (`bus.describeLog`): its id and how many partitions it has now. */
export interface FoundLog {
  id: string;
  partitions: number;
}

/**
 * The topic's log (`bus.describeLog(topic)`), asked again once what was
 * found is LOG_CHECK_MS old: a topic created again is found within that.
 */
export class NoticeLog {
  private last: (FoundLog & { at: number }) | undefined;
  constructor(
    private readonly bus: Bus,
    readonly topic: string,
  ) {}
  recent(): FoundLog | undefined {
    return this.last && performance.now() - this.last.at < LOG_CHECK_MS ? this.last : undefined;
  }
  async now(): Promise<FoundLog> {
    const { id, partitions } = await this.bus.describeLog(this.topic);
    this.last = { id, partitions, at: performance.now() };
    return this.last;
  }
}

/** A log seen for the first time after another: every notice is published to it again. */
export interface LogChange {
  topic: string;
  from: string;
  to: string;
  /** Notices it is to get, all of them so far. */
  notices: number;
}

/** Publishes up to one batch of the notices the topic's log does not hold yet and records it; how many. */
export async function publishPending(
  pool: pg.Pool,
  bus: Bus,
  log: NoticeLog,
  onChange: (change: LogChange) => void = () => {},
  /** The loop's: what the stop is told of a wait for the lock, and how it ends it. */
  lockWait?: PublishLockWait,
  /** Another process's publish running longer: a SessionLockTimeoutError. */
  lockWaitMs = LOOP_LOCK_WAIT_MS,
): Promise<number> {
  const work = async () => {
    lockWait?.over();
    await sequenceNotices(pool);
    const recent = log.recent();
    if (recent !== undefined && !(await pendingFor(pool, recent.id))) return 0;
    // The log found within LOG_CHECK_MS, else asked now (each ask is a Metadata round trip, up to a
    // broker's timeout): a batch counted for a log the topic has just left is sent again, from the
    // start, once the new log is found.
    const found = recent ?? (await log.now());
    const target = { topic: log.topic, log: found.id, partitions: found.partitions };
    const { through, partitions } = await publishedThrough(pool, target, onChange);
    // `pos`, not `position`: ordering by the text alias would sort 10 before 9.
    const { rows } = await pool.query<{ account_id: string; event: string; pos: string }>(
      `select account_id, event::text as event, position::text as pos from invoicing.notices
        where position > $1::bigint order by position limit $2`,
      [through, BATCH],
    );
    if (rows.length === 0) return 0;
    // The stored text is the event: every replay sends the same bytes.
    // Over the partitions the log had when first met (migration 025): partitions added since take no
    // account, so each account's notices stay in one partition, in order.
    await bus.publish(
      target.topic,
      rows.map((r) => ({ key: r.account_id, value: r.event, headers: NOTICE_KAFKA_HEADERS })),
      { partitions },
    );
    // One statement: the log's position and the notices' first publish move together.
    await pool.query(
      `with moved as (
         update invoicing.notices_logs set published_through = $2::bigint, used_at = now()
          where log = $3 and published_through < $2::bigint)
       update invoicing.notices set published_at = now()
        where position > $1::bigint and position <= $2::bigint and published_at is null`,
      [through, rows.at(-1)!.pos, target.log],
    );
    return rows.length;
  };
  if (!lockWait) return withSessionLock(pool, PUBLISH_LOCK, work, { waitMs: lockWaitMs });
  return withSessionLock(lockWait.on(pool), PUBLISH_LOCK, work, { onWait: lockWait.onWait, waitMs: lockWaitMs }).finally(lockWait.over);
}

/** Whether a sequenced notice is beyond what the log holds (a log not recorded yet holds none). */
async function pendingFor(pool: pg.Pool, log: string): Promise<boolean> {
  const { rows } = await pool.query<{ pending: boolean }>(
    `select exists (select 1 from invoicing.notices where position > coalesce(
       (select published_through from invoicing.notices_logs where log = $1), 0)) as pending`,
    [log],
  );
  return rows[0]!.pending;
}

/**
 * How far the target's log holds the notices, and over how many partitions its keys are spread
 * (the count it had when first recorded); a log not seen before is recorded (under the publish lock).
 */
async function publishedThrough(
  pool: pg.Pool,
  target: { topic: string; log: string; partitions: number },
  onChange: (change: LogChange) => void,
): Promise<{ through: string; partitions: number }> {
  const known = await pool.query<{ through: string; partitions: number | null }>(
    'select published_through::text as through, partitions from invoicing.notices_logs where log = $1',
    [target.log],
  );
  const row = known.rows[0];
  if (row && row.partitions !== null) return { through: row.through, partitions: row.partitions };
  if (row) {
    // Recorded before the count was kept: the count it has now, from now on.
    await pool.query('update invoicing.notices_logs set partitions = $2 where log = $1 and partitions is null', [
      target.log,
      target.partitions,
    ]);
    return { through: row.through, partitions: target.partitions };
  }
  const last = await pool.query<{ log: string }>('select log from invoicing.notices_logs order by used_at desc limit 1');
  const from = last.rows[0]?.log;
  // No log recorded yet (notices published before logs were kept): those marked published
  // went to the log found now. Any later log starts at 0.
  const { rows } = await pool.query<{ through: string; last: string }>(
    `insert into invoicing.notices_logs (log, topic, published_through, partitions)
     values ($1, $2, case when $3::boolean then coalesce(
               (select min(position) - 1 from invoicing.notices where published_at is null),
               (select max(position) from invoicing.notices), 0) else 0 end, $4)
     returning published_through::text as through,
               (select coalesce(max(position), 0) from invoicing.notices)::text as last`,
    [target.log, target.topic, from === undefined, target.partitions],
  );
  const made = rows[0]!;
  if (from !== undefined) onChange({ topic: target.topic, from, to: target.log, notices: Number(made.last) - Number(made.through) });
  return { through: made.through, partitions: target.partitions };
}

/** The publisher's loop (the shared startLoop): the bus is made lazily, so Kafka down at boot only delays notices. */
export function startNoticePublisher(deps: NoticePublisherDeps): Loop {
  let bus: Bus | undefined;
  let log: NoticeLog | undefined;
  const connect =
    deps.bus ??
    (() => createKafkaBus({ brokers: deps.brokers, clientId: 'vault-invoicing-notices', log: (e, f) => deps.log[busEventLevel(e)](e, f) }));
  // At stop, what a tick waits for from the broker is cut after NOTICES_STOP_WITHIN_MS (stop-cut.ts).
  const cut = new BusCut();
  // A tick waiting for another process's PUBLISH_LOCK: no bus call to cut (lock-wait.ts).
  const lockWait = new PublishLockWait();
  // Another process's publish running: said at info, tried again next tick (the bus kept).
  const busy = new LockBusy(deps.log, 'notices.pass_skipped');
  const open = async () => {
    const connecting = connect();
    // Made after the cut: closed, as nothing else would close it.
    const made = await cut.race(connecting).catch((err: unknown) => {
      void connecting.then((late) => late.close()).catch(() => {});
      throw err;
    });
    try {
      // Kept until an operator says otherwise: a consumer starting on the log long after still
      // reads every notice (an `account.suspended` of long ago included), as a new log gets them all.
      const bus = cut.wrap(made);
      await bus.ensureTopic(deps.topic, PARTITIONS, { keepForever: true });
      return bus;
    } catch (err) {
      // Not kept, so nothing else would close it: every failing tick would leak its connected clients.
      await made.close().catch(() => {});
      throw err;
    }
  };
  const onChange = (c: LogChange) =>
    deps.log.warn('notices.log_changed', {
      topic: c.topic,
      from: c.from,
      to: c.to,
      action: 'publish every notice again, in order',
      'count#notices.republished': c.notices,
    });
  const loop = startLoop({
    everyMs: deps.everyMs ?? 1_000,
    async tick() {
      bus ??= await open();
      log ??= new NoticeLog(bus, deps.topic);
      const started = performance.now();
      const published = await busy.run(() => publishPending(deps.pool, bus!, log!, onChange, lockWait, deps.lockWaitMs));
      if (published === undefined) return false;
      if (published > 0) {
        deps.log.info('notices.published', {
          topic: deps.topic,
          'count#notices.published': published,
          'measure#notices.publish': `${(performance.now() - started).toFixed(0)}ms`,
        });
      }
      return published === BATCH;
    },
    onError: (err) => {
      deps.log.error('notices.publish_failed', err, { topic: deps.topic });
      // A fresh connection next time (kafkajs may not recover a producer that failed), and the log asked again.
      const failed = bus;
      bus = undefined;
      log = undefined;
      void failed?.close().catch(() => {});
    },
  });
  return {
    wake: () => loop.wake(),
    async stop() {
      const stopping = loop.stop();
      if (!(await settledWithin(stopping, NOTICES_STOP_WITHIN_MS))) {
        const holder = lockWait.waitingFor();
        // A silent broker: the tick is cut, lets go of its session, and what it sent is sent again at the next start.
        // Waiting for the lock: nothing sent; its wait is cancelled, else db.close() would wait for that session.
        deps.log.warn('notices.stop_cut', {
          topic: deps.topic,
          after: `${NOTICES_STOP_WITHIN_MS}ms`,
          reason: holder === undefined ? 'the broker did not answer the publisher' : `waiting for the publish lock (held by ${holder})`,
          action:
            holder === undefined
              ? 'notices not acknowledged are published again at the next start'
              : 'the wait is cancelled; nothing was sent: the holder, or the next start, publishes the notices',
        });
        cut.now();
        if (holder !== undefined) {
          await settledWithin(
            lockWait.cancel(deps.pool, PUBLISH_LOCK).catch(() => false),
            NOTICES_CUT_WAIT_MS,
          );
        }
        await settledWithin(stopping, NOTICES_CUT_WAIT_MS);
      }
      if (bus) await settledWithin(bus.close(), NOTICES_CUT_WAIT_MS);
    },
  };
}
