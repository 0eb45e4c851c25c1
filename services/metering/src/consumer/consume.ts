import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { type Bus, type Consumer, STOP_SIGNAL_GRACE_MS, type TopicOptions } from '@vault/bus';
import { formatReasons } from '@vault/contracts';
import type { Logger } from '@vault/runtime';
import { applyMessages } from './apply-messages.ts';
import { noteLog } from './consumed-log.ts';
import { newContact, REREAD_ACTION } from './log-position.ts';
import { noteEmptyRange } from './empty-offsets.ts';
import { useBrokerTimestamps } from './topic-timestamps.ts';
import { cutByBound, TRANSACTION_LIMIT_MS, transactionBound } from './transaction-bound.ts';

/** Partitions of the billing-events topic when metering has to create it. */
export const DEFAULT_PARTITIONS = 6;
/**
 * The billing-events topic's options wherever we make it (metering, `vault publish`/`simulate`,
 * the bench): the broker stamps each message (LogAppendTime), the 5-minute rule's clock.
 */
export const EVENTS_TOPIC_OPTIONS: TopicOptions = { brokerTimestamps: true };

export interface ConsumerOptions {
  bus: Bus;
  pool: pg.Pool;
  topic: string;
  log: Logger;
  /** Messages per transaction; memory is bounded by it whatever the backlog. */
  maxBatchSize?: number;
  groupId: string;
  sessionTimeoutMs?: number;
  /** Whether the app is stopping (runApp): a batch cut short by the stop is no failure. */
  stopping?: () => boolean;
  /** How long a batch's transaction may live (transaction-bound.ts); default TRANSACTION_LIMIT_MS. Tests shorten it. */
  transactionLimitMs?: number;
}

/**
 * Metering's intake from the bus: each batch is judged, applied and its
 * position stored in one transaction (applyMessages), then committed on the
 * bus. A position is used only in the log it was read from: when the log
 * changed, the partition is read again from its start (log-position.ts). A failure throws, so the bus hands the same batch again; a bad message
 * never throws, it is rejected and kept.
 */
export async function startConsumer(o: ConsumerOptions): Promise<Consumer> {
  await o.bus.ensureTopic(o.topic, DEFAULT_PARTITIONS, EVENTS_TOPIC_OPTIONS);
  const log = o.log.child({ topic: o.topic });
  // A topic made before (or by another tool) may have CreateTime: switched, or a warning.
  await useBrokerTimestamps(o.bus, o.topic, log);
  await noteLog(o.pool, o.bus, o.topic, log);
  // The server's version is asked once: a server before PostgreSQL 17 is said to bound batches less well.
  const bound = await transactionBound(o.pool, o.transactionLimitMs ?? TRANSACTION_LIMIT_MS, log);
  // What this process has checked of each partition's stored position.
  const contact = newContact(async (topic, partition) => {
    const bounds = (await o.bus.bounds(topic)).find((b) => b.partition === partition);
    return BigInt(bounds?.start ?? 0);
  });
  return o.bus.consume({
    topic: o.topic,
    groupId: o.groupId,
    maxBatchSize: o.maxBatchSize ?? 2_000,
    // While one partition's batch is in PostgreSQL, the next is judged in JS.
    partitionsConcurrently: 3,
    ...(o.sessionTimeoutMs ? { sessionTimeoutMs: o.sessionTimeoutMs } : {}),
    // An error on the way down (Ctrl-C stops the embedded PostgreSQL too) is the stop's, not the bus's.
    ...(o.stopping ? { stopping: o.stopping } : {}),
    // Kafka: a fetch of only markers after the position (a transaction ended apart from its
    // messages, an aborted one), so consumer_lag reaches 0 there too.
    eachEmptyRange: (range) => noteEmptyRange(o.pool, range),
    eachBatch: async (batch) => {
      const started = performance.now();
      let result;
      try {
        result = await applyMessages(o.pool, batch, Date.now(), log, contact, bound);
      } catch (err) {
        // Ctrl-C stops the embedded PostgreSQL with us: the batch is handed again at the next start. The
        // terminal's signal may end PostgreSQL's connections before our own handler has run: a failure first
        // gives it a moment (the batch is retried after a pause anyway).
        if (o.stopping && !o.stopping()) await sleep(STOP_SIGNAL_GRACE_MS);
        if (o.stopping?.())
          log.info('batch.interrupted', {
            partition: batch.partition,
            size: batch.messages.length,
            reason: 'the app is stopping; the next start applies it',
          });
        else if (cutByBound(err))
          // Rolled back whole: handed again, its events then learned at that transaction's start.
          log.warn('batch.cut', {
            partition: batch.partition,
            size: batch.messages.length,
            limit_ms: bound.limitMs,
            reason: (err as Error).message,
            action: 'the bus hands it again',
          });
        else log.error('batch.failed', err, { partition: batch.partition, size: batch.messages.length });
        throw err;
      }
      if (result.change !== undefined) {
        log.warn('metering.log_changed', {
          partition: batch.partition,
          to: batch.log,
          reason: result.change,
          action: result.action ?? REREAD_ACTION,
        });
      }
      if (result.anchorGone !== undefined) {
        log.warn('metering.anchor_gone', {
          partition: batch.partition,
          offset: result.anchorGone,
          log: batch.log,
          reason: 'the log no longer holds the message last applied (compacted): only its log id was checked',
        });
      }
      if (result.hole !== undefined) {
        log.warn('metering.log_hole', {
          partition: batch.partition,
          'count#metering.messages_lost': result.hole,
          first: batch.messages[0]!.offset,
        });
      }
      if (result.readFrom !== undefined) {
        log.info('metering.read_from', { partition: batch.partition, offset: result.readFrom, log: batch.log });
        return { readFrom: result.readFrom };
      }
      const last = BigInt(batch.messages[batch.messages.length - 1]!.offset);
      // Past the markers after the last message its fetch read, if any.
      const lag = BigInt(batch.highWatermark) - (batch.fetchedTo === undefined ? last + 1n : BigInt(batch.fetchedTo));
      log.info('batch.applied', {
        partition: batch.partition,
        'measure#metering.batch_size': batch.messages.length,
        'measure#metering.apply_time': `${(performance.now() - started).toFixed(1)}ms`,
        'measure#metering.partition_lag': lag > 0n ? lag.toString() : '0',
        'count#metering.events_applied': result.applied,
        'count#metering.events_duplicate': result.duplicates,
        'count#metering.events_rejected': result.rejected.length,
        ...(result.skipped ? { 'count#metering.replayed_skipped': result.skipped } : {}),
        ...(result.isolated ? { isolated: 'true' } : {}),
      });
      for (const r of result.rejected) {
        log.warn('event.rejected', {
          position: r.received.position,
          source: r.source,
          id: r.eventId,
          reason: formatReasons(r.reasons),
        });
      }
    },
  });
}
