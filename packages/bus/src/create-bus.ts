import type pg from 'pg';
import type { Bus } from './bus.ts';
import { createEmbeddedBus } from './embedded-bus.ts';
import { createKafkaBus } from './kafka-bus.ts';

export interface BusConfig {
  /** KAFKA_BROKERS; unset or empty: the embedded bus in `pool`'s database. */
  kafkaBrokers?: string[] | undefined;
  clientId: string;
  pool: pg.Pool;
  databaseUrl: string;
  log?: (event: string, fields?: Record<string, string | number>) => void;
  /** The embedded bus trims the topics it consumes this often (ms); unset: never by itself. Kafka: its own retention. */
  trimEveryMs?: number;
}

/**
 * The level of a bus event, from its name: a failure, a crash, an error, a
 * hole in a fetch or a commit dropped is for an operator to see (warn); the
 * rest (joined, trimmed, months) is the bus at work (info).
 */
export function busEventLevel(event: string): 'info' | 'warn' {
  return /_(?:failed|crash|error|gap|dropped|again)$/.test(event) ? 'warn' : 'info';
}

export function createBus(config: BusConfig): Promise<Bus> {
  const log = config.log ? { log: config.log } : {};
  if (config.kafkaBrokers && config.kafkaBrokers.length > 0) {
    return createKafkaBus({ brokers: config.kafkaBrokers, clientId: config.clientId, ...log });
  }
  const trim = config.trimEveryMs !== undefined ? { trimEveryMs: config.trimEveryMs } : {};
  return createEmbeddedBus({ pool: config.pool, url: config.databaseUrl, ...log, ...trim });
}
