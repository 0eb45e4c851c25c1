import type { Consumer as KafkaJsConsumer } from 'kafkajs';
import type { BusReach } from './bus.ts';

/**
 * What a consumer knows of its bus's reach (`Consumer.reach()`): when the bus last answered it,
 * whether it is in its handler (its own work, not waiting on the bus), and since when its member
 * has been out of its group. Fed by each adapter from real signals only: kafkajs's instrumentation
 * events, the embedded consumer's own queries.
 */
export class ReachTracker {
  private reached: number;
  private inHandler = 0;
  private outSince: number | undefined;
  private error: string | undefined;

  /** `now`: the clock (epoch ms), Date.now but in a test. */
  constructor(private readonly now: () => number = Date.now) {
    this.reached = now();
  }

  /** The bus answered (a broker's response; one of the embedded log's reads). */
  answered(): void {
    this.reached = this.now();
  }
  /** Reaching the bus failed: kept for the log, never for an answer. */
  failed(error: string): void {
    this.error = error;
  }
  /**
   * Around the handler only (never around a request of the bus's: one retried for ever against a
   * broker gone would hide it): time spent there is the consumer's own, not the bus's silence.
   */
  async during<T>(handler: () => Promise<T>): Promise<T> {
    this.inHandler++;
    try {
      return await handler();
    } finally {
      this.inHandler--;
      // Leaving the handler starts the silence over: nothing was asked of the bus meanwhile.
      this.reached = this.now();
      // And a time out of the group: kafkajs cannot rejoin before the last handler leaves, so a
      // rebalance seen during a long batch dates from here, not from minutes back (a false 503).
      if (this.inHandler === 0 && this.outSince !== undefined) this.outSince = this.reached;
    }
  }
  /** The member is out of its group (joining, rebalancing, restarting after a crash). */
  leftGroup(): void {
    this.outSince ??= this.now();
  }
  joined(): void {
    this.outSince = undefined;
    this.reached = this.now();
  }

  snapshot(): BusReach {
    return {
      lastReached: this.reached,
      busy: this.inHandler > 0,
      ...(this.outSince === undefined ? {} : { outOfGroupSince: this.outSince }),
      ...(this.error === undefined ? {} : { lastError: this.error }),
    };
  }

  /**
   * kafkajs's signals of one member: any request a broker answered (fetches, heartbeats, a long
   * poll on an idle topic every 5 s, metadata) is reach; a request timed out or a crash is what
   * failed; a join ends a time out of the group, a rebalance or a crash starts one.
   */
  listen(consumer: KafkaJsConsumer, current: () => boolean): void {
    const { events } = consumer;
    consumer.on(events.REQUEST, () => current() && this.answered());
    consumer.on(events.REQUEST_TIMEOUT, (e) => {
      if (current()) this.failed(`${e.payload.apiName} request to ${e.payload.broker} timed out`);
    });
    consumer.on(events.GROUP_JOIN, () => current() && this.joined());
    consumer.on(events.REBALANCING, () => current() && this.leftGroup());
    consumer.on(events.CRASH, (e) => {
      if (!current()) return;
      this.leftGroup();
      this.failed(e.payload.error.message);
    });
  }
}
