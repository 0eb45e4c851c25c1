import { join } from 'node:path';
import { ensureEmbeddedPostgres } from '@vault/db';
import { startKafka, stopKafka } from '@vault/kafka-local';
import { freshDatabaseOn } from '@vault/testkit';

export interface BenchInfra {
  /** A fresh database of its own on the server. */
  databaseUrl: string;
  brokers: string[];
  /** The broker's process when the benchmark started it (for its CPU time). */
  kafkaPid?: number | undefined;
  stop(): Promise<void>;
}

/**
 * The benchmark's servers: DATABASE_URL / KAFKA_BROKERS when given, otherwise
 * an embedded PostgreSQL with durable settings (fsync on, unlike the tests')
 * and a local Kafka broker, both under .vault/bench and stopped at the end.
 */
export async function benchInfra(
  at: { home: string; pgPort: number; kafkaPort: number },
  env: { DATABASE_URL?: string | undefined; KAFKA_BROKERS?: string[] | undefined },
  log: (line: string) => void,
): Promise<BenchInfra> {
  const home = at.home;
  const stops: (() => Promise<unknown>)[] = [];
  let serverUrl = env.DATABASE_URL;
  if (!serverUrl) {
    const server = await ensureEmbeddedPostgres({
      dir: join(home, 'postgres'),
      port: at.pgPort,
      fast: false,
      log: (e) => log(`postgres: ${e}`),
    });
    stops.push(() => server.stop({ force: true }));
    serverUrl = server.url;
  }
  let brokers = env.KAFKA_BROKERS;
  let kafkaPid: number | undefined;
  if (!brokers) {
    const kafka = await startKafka({ stateDir: join(home, 'kafka'), port: at.kafkaPort, log: () => {} });
    stops.push(() => stopKafka({ stateDir: join(home, 'kafka') }));
    brokers = kafka.brokers.split(',');
    kafkaPid = kafka.pid;
  }
  const db = await freshDatabaseOn(serverUrl, 'bench');
  // The benchmark opens its own pools; this one only serves drop().
  return {
    databaseUrl: db.url,
    brokers,
    kafkaPid,
    stop: async () => {
      await db.drop();
      for (const stop of stops.reverse()) await stop();
    },
  };
}
