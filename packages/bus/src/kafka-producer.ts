// The Kafka bus's producer: a bounded retry schedule, and a new producer after
// a send that failed, so what that send may have left on the broker can never
// make a later send look like a duplicate of it.
import { Kafka, Partitioners, logLevel, type Producer } from 'kafkajs';

/**
 * The producer's retry schedule, on a kafkajs client of its own: kafkajs retries a
 * connection to the brokers with the client's schedule, nested inside the send's own, so
 * with the bus client's (10 retries) a send to a stopped broker was given up after 213 s.
 * With this one it is given up after about 8 s (a broker that refuses connections, or
 * answers retriable errors such as a leader not available), under the 15 s a caller
 * answering a person waits (metering's intake). A broker that accepts a connection and
 * never answers is kafkajs's request timeout (30 s) an attempt: those callers bound
 * their own wait.
 */
export const PRODUCER_RETRY = { retries: 4, initialRetryTime: 300, maxRetryTime: 3_000 };

/** How the producers are made, and who is told when one is replaced. */
export interface ProducerOptions {
  brokers: string[];
  clientId: string;
  /** At most PRODUCER_RETRY's retries; at least 1 (an idempotent producer needs one). */
  retries?: number;
  /** A send failed: the producer it used is replaced (`bus.publish_failed`). */
  onReplaced?(err: unknown): void;
}

interface Held {
  producer: Producer;
  /** Its connection, made at its first use (one made while the brokers were down would fail the first publish after). */
  ready?: Promise<void>;
  sending: number;
  retired: boolean;
}

export interface Producers {
  /** The producer to connect before first use (the bus connects it with its admin, within its timeout). */
  readonly first: Producer;
  /** Runs `work` on the current producer; if it throws, that producer is retired and the next call gets a new one. */
  use<T>(work: (producer: Producer) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Idempotent, acks=all, one request in flight: no duplicates or reordering from
 * the producer's own retries. Never auto-created: a broker with Kafka's default
 * `auto.create.topics.enable=true` would make a deleted topic again on the next
 * send with its own defaults (one partition, one copy).
 *
 * kafkajs gives a batch's sequence numbers back when its send fails, though the
 * broker may have written it (its answer lost): the next batch of that partition
 * would reuse them, and the broker would take it for that one again (answered as
 * written, and not) or refuse every later one (OUT_OF_ORDER_SEQUENCE_NUMBER).
 * So a producer whose send failed sends nothing more: the next publish gets a
 * new producer id. Sends already under way on it finish there, in order.
 */
export function kafkaProducers(o: ProducerOptions): Producers {
  const retry = { ...PRODUCER_RETRY, retries: Math.max(1, Math.min(o.retries ?? PRODUCER_RETRY.retries, PRODUCER_RETRY.retries)) };
  const kafka = new Kafka({ clientId: o.clientId, brokers: o.brokers, logLevel: logLevel.NOTHING, retry });
  const make = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry,
    });
  const first = make();
  let current: Held = { producer: first, ready: Promise.resolve(), sending: 0, retired: false };
  const all = new Set<Held>([current]);
  let closed = false;

  const drop = (held: Held) => {
    if (all.delete(held)) held.producer.disconnect().catch(() => {});
  };
  const retire = (held: Held, err: unknown) => {
    if (held.retired) return;
    held.retired = true;
    o.onReplaced?.(err);
    if (closed) return;
    current = { producer: make(), sending: 0, retired: false };
    all.add(current);
  };

  return {
    first,
    async use(work) {
      const held = current;
      held.sending++;
      try {
        held.ready ??= held.producer.connect();
        await held.ready;
        return await work(held.producer);
      } catch (err) {
        retire(held, err);
        throw err;
      } finally {
        // A retired producer is let go once the last send on it has ended.
        held.sending--;
        if (held.retired && held.sending === 0) drop(held);
      }
    },
    async close() {
      closed = true;
      await Promise.all([...all].map((h) => h.producer.disconnect()));
      all.clear();
    },
  };
}
