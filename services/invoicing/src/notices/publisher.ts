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
import { withSessionLock } from '@vault/db';
import { startLoop, type Loop, type Logger } from '@vault/runtime';
import { sequenceNotices } from './outbox.ts';
import { NOTICE_KAFKA_HEADERS } from './notice.ts';

// One publisher at a time across processes: two would publish each notice twice.
const PUBLISH_LOCK = 0x76_6e_70_62; // "vnpb"
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
  /** Tests: a bus of their own; default, the Kafka bus made (and remade after a failure) here. */
  bus?: () => Promise<Bus>;
}

/**
 * The topic's log (`bus.describeLog(topic).id`), asked again once what was
 * found is LOG_CHECK_MS old: a topic created again is found within that.
 */
export class NoticeLog {
  private last: { id: string; at: number } | undefined;
  constructor(
    private readonly bus: Bus,
    readonly topic: string,
  ) {}
  recent(): string | undefined {
    return this.last && performance.now() - this.last.at < LOG_CHECK_MS ? this.last.id : undefined;
  }
  async now(): Promise<string> {
    const id = (await this.bus.describeLog(this.topic)).id;
    this.last = { id, at: performance.now() };
    return id;
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
): Promise<number> {
  return withSessionLock(pool, PUBLISH_LOCK, async () => {
    await sequenceNotices(pool);
    const recent = log.recent();
    if (recent !== undefined && !(await pendingFor(pool, recent))) return 0;
    // The log found within LOG_CHECK_MS, else asked now (each ask is a Metadata round trip, up to a
    // broker's timeout): a batch counted for a log the topic has just left is sent again, from the
    // start, once the new log is found.
    const target = { topic: log.topic, log: recent ?? (await log.now()) };
    const through = await publishedThrough(pool, target, onChange);
    // `pos`, not `position`: ordering by the text alias would sort 10 before 9.
    const { rows } = await pool.query<{ account_id: string; event: string; pos: string }>(
      `select account_id, event::text as event, position::text as pos from invoicing.notices
        where position > $1::bigint order by position limit $2`,
      [through, BATCH],
    );
    if (rows.length === 0) return 0;
    // The stored text is the event: every replay sends the same bytes.
    await bus.publish(
      target.topic,
      rows.map((r) => ({ key: r.account_id, value: r.event, headers: NOTICE_KAFKA_HEADERS })),
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
  });
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

/** How far the target's log holds the notices; a log not seen before is recorded (under the publish lock). */
async function publishedThrough(
  pool: pg.Pool,
  target: { topic: string; log: string },
  onChange: (change: LogChange) => void,
): Promise<string> {
  const known = await pool.query<{ through: string }>(
    'select published_through::text as through from invoicing.notices_logs where log = $1',
    [target.log],
  );
  if (known.rows[0]) return known.rows[0].through;
  const last = await pool.query<{ log: string }>('select log from invoicing.notices_logs order by used_at desc limit 1');
  const from = last.rows[0]?.log;
  // No log recorded yet (notices published before logs were kept): those marked published
  // went to the log found now. Any later log starts at 0.
  const { rows } = await pool.query<{ through: string; last: string }>(
    `insert into invoicing.notices_logs (log, topic, published_through)
     values ($1, $2, case when $3::boolean then coalesce(
               (select min(position) - 1 from invoicing.notices where published_at is null),
               (select max(position) from invoicing.notices), 0) else 0 end)
     returning published_through::text as through,
               (select coalesce(max(position), 0) from invoicing.notices)::text as last`,
    [target.log, target.topic, from === undefined],
  );
  const row = rows[0]!;
  if (from !== undefined) onChange({ topic: target.topic, from, to: target.log, notices: Number(row.last) - Number(row.through) });
  return row.through;
}

/** The publisher's loop (the shared startLoop): the bus is made lazily, so Kafka down at boot only delays notices. */
export function startNoticePublisher(deps: NoticePublisherDeps): Loop {
  let bus: Bus | undefined;
  let log: NoticeLog | undefined;
  const connect =
    deps.bus ??
    (() => createKafkaBus({ brokers: deps.brokers, clientId: 'vault-invoicing-notices', log: (e, f) => deps.log[busEventLevel(e)](e, f) }));
  const open = async () => {
    const made = await connect();
    try {
      // Kept until an operator says otherwise: a consumer starting on the log long after still
      // reads every notice (an `account.suspended` of long ago included), as a new log gets them all.
      await made.ensureTopic(deps.topic, PARTITIONS, { keepForever: true });
      return made;
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
      const published = await publishPending(deps.pool, bus, log, onChange);
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
      await loop.stop();
      await bus?.close().catch(() => {});
    },
  };
}
