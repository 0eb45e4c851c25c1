import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { ensureEmbeddedPostgres } from '@vault/db';
import { startKafka, stopKafka } from '@vault/kafka-local';

export interface BenchInfra {
  /** A fresh database of its own on the server. */
  databaseUrl: string;
  brokers: string[];
  stop(): Promise<void>;
}

/**
 * The benchmark's servers: DATABASE_URL / KAFKA_BROKERS when given, otherwise
 * an embedded PostgreSQL with durable settings (fsync on, unlike the tests')
 * and a local Kafka broker, both under .vault/bench and stopped at the end.
 */
export async function benchInfra(root: string, env: { DATABASE_URL?: string | undefined; KAFKA_BROKERS?: string[] | undefined }, log: (line: string) => void): Promise<BenchInfra> {
  const home = join(root, '.vault', 'bench');
  const stops: (() => Promise<unknown>)[] = [];
  let serverUrl = env.DATABASE_URL;
  if (!serverUrl) {
    const server = await ensureEmbeddedPostgres({ dir: join(home, 'postgres'), port: 55434, fast: false, log: (e) => log(`postgres: ${e}`) });
    stops.push(() => server.stop());
    serverUrl = server.url;
  }
  let brokers = env.KAFKA_BROKERS;
  if (!brokers) {
    const kafka = await startKafka({ stateDir: join(home, 'kafka'), port: 19192, log: () => {} });
    stops.push(() => stopKafka({ stateDir: join(home, 'kafka') }));
    brokers = kafka.brokers.split(',');
  }
  const name = `bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    brokers,
    stop: async () => {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      for (const stop of stops.reverse()) await stop();
    },
  };
}
