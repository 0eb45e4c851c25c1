// Publishes the notices' outbox to Kafka (`BILLING_NOTICES_TOPIC`) when
// KAFKA_BROKERS is set: at least once, in position order, each keyed by its
// account (an account's notices share a partition, so keep their order).
// A notice is marked published only after the broker acknowledged it
// (acks=all); a kill in between publishes it again, with the same id and body.
import type pg from 'pg';
import { createKafkaBus, type Bus } from '@vault/bus';
import { withSessionLock } from '@vault/db';
import { startLoop, type Loop, type Logger } from '@vault/runtime';
import { sequenceNotices } from './outbox.ts';
import { NOTICE_KAFKA_HEADERS } from './notice.ts';

// One publisher at a time across processes: two would publish each notice twice.
const PUBLISH_LOCK = 0x76_6e_70_62; // "vnpb"
const BATCH = 500;
const PARTITIONS = 3;

export interface NoticePublisherDeps {
  pool: pg.Pool;
  brokers: string[];
  topic: string;
  log: Logger;
  everyMs?: number;
  /** Tests: a bus of their own; default, the Kafka bus made (and remade after a failure) here. */
  bus?: () => Promise<Bus>;
}

/** Publishes up to one batch of pending notices and marks them; how many. */
export async function publishPending(pool: pg.Pool, bus: Bus, topic: string): Promise<number> {
  return withSessionLock(pool, PUBLISH_LOCK, async () => {
    await sequenceNotices(pool);
    const { rows } = await pool.query<{ id: string; account_id: string; event: string }>(
      `select id, account_id, event::text as event from invoicing.notices
        where published_at is null and position is not null order by position limit $1`,
      [BATCH],
    );
    if (rows.length === 0) return 0;
    // The stored text is the event: every replay sends the same bytes.
    await bus.publish(
      topic,
      rows.map((r) => ({ key: r.account_id, value: r.event, headers: NOTICE_KAFKA_HEADERS })),
    );
    await pool.query('update invoicing.notices set published_at = now() where id = any($1::text[])', [rows.map((r) => r.id)]);
    return rows.length;
  });
}

/** The publisher's loop (the shared startLoop): the bus is made lazily, so Kafka down at boot only delays notices. */
export function startNoticePublisher(deps: NoticePublisherDeps): Loop {
  let bus: Bus | undefined;
  const connect =
    deps.bus ?? (() => createKafkaBus({ brokers: deps.brokers, clientId: 'vault-invoicing-notices', log: (e, f) => deps.log.info(e, f) }));
  const loop = startLoop({
    everyMs: deps.everyMs ?? 1_000,
    async tick() {
      if (!bus) {
        const made = await connect();
        await made.ensureTopic(deps.topic, PARTITIONS);
        bus = made;
      }
      const started = performance.now();
      const published = await publishPending(deps.pool, bus, deps.topic);
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
      // A fresh connection next time: kafkajs may not recover a producer that failed.
      const failed = bus;
      bus = undefined;
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
