// `npm run bench:metering [-- --events N --latency-seconds S]`: metering's
// drain rate beside two limits measured in the same run (a kafkajs consumer
// that does nothing, a PostgreSQL COPY), the database's floor (a COPY of the
// events and of the usage metering derived, under the same constraints),
// latency at a steady 5,000 events/s, and the metering process's peak RSS.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { z } from 'zod';
import { createKafkaBus } from '@vault/bus';
import { migrate } from '@vault/db';
import { loadDotEnv, parseConfig } from '@vault/runtime';
import { MeteringSettings } from '../src/config.ts';
import { DEFAULT_PARTITIONS } from '../src/consumer/consume.ts';
import { benchInfra } from './infra.ts';
import { latencies, percentile, type Curve } from './latency.ts';
import { copyEventsMs, copyUsageMs, noopConsumerRate } from './limits.ts';
import { spawnMetering } from './metering-process.ts';
import { billingStream, type StreamOptions } from './stream.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

const Options = z.object({
  events: z.coerce.number().int().min(1000).default(500_000),
  'latency-seconds': z.coerce.number().int().min(1).default(20),
  rate: z.coerce.number().int().min(1).default(5_000),
});

const { values } = parseArgs({ options: { events: { type: 'string' }, 'latency-seconds': { type: 'string' }, rate: { type: 'string' } } });
const parsed = Options.safeParse(values);
if (!parsed.success) {
  console.error(`bench: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const opts = parsed.data;
loadDotEnv();
const settings = parseConfig(MeteringSettings);
const say = (line: string) => console.log(line);
const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} events/s`;

const infra = await benchInfra(ROOT, { DATABASE_URL: settings.DATABASE_URL, KAFKA_BROKERS: settings.KAFKA_BROKERS }, say);
const pool = new pg.Pool({ connectionString: infra.databaseUrl, max: 4 });
const bus = await createKafkaBus({ brokers: infra.brokers, clientId: 'bench' });
let code = 0;
try {
  await migrate(pool, 'metering', MIGRATIONS);
  const { rows } = await pool.query<{ v: string; fsync: string }>(`select version() as v, current_setting('fsync') as fsync`);
  const prefix = `b${Date.now().toString(36)}`;
  const stream: StreamOptions = { events: opts.events, seed: 42, prefix };
  say(
    `metering benchmark: ${opts.events.toLocaleString('en-US')} events (dyno pairs, add-on changes, 5% duplicates), ` +
      `${DEFAULT_PARTITIONS} partitions; ${rows[0]!.v.split(' on ')[0]}, fsync=${rows[0]!.fsync}; brokers ${infra.brokers.join(',')}`,
  );

  const topic = `bench-${Date.now().toString(36)}`;
  await bus.ensureTopic(topic, DEFAULT_PARTITIONS);
  let started = performance.now();
  let chunk = [];
  for (const m of billingStream(stream)) {
    chunk.push(m);
    if (chunk.length === 10_000) {
      await bus.publish(topic, chunk);
      chunk = [];
    }
  }
  await bus.publish(topic, chunk);
  say(`  published to Kafka              ${rate(opts.events / ((performance.now() - started) / 1000))}`);

  const noop = await noopConsumerRate(infra.brokers, topic, opts.events);
  say(`  limit: kafkajs no-op consumer   ${rate(noop)}`);
  const eventsCopyMs = await copyEventsMs(infra.databaseUrl, stream);
  const copy = opts.events / (eventsCopyMs / 1000);
  say(`  limit: PostgreSQL COPY          ${rate(copy).replace('events', 'rows')}`);

  const env = {
    DATABASE_URL: infra.databaseUrl,
    KAFKA_BROKERS: infra.brokers.join(','),
    BILLING_EVENTS_TOPIC: topic,
    METERING_CONSUMER_GROUP: `bench-metering-${topic}`,
  };
  const processed = async () => Number((await pool.query<{ n: string }>(`select sum(value)::text as n from metering.counters`)).rows[0]!.n);
  const metering = await spawnMetering(env);
  let lastReport = performance.now();
  await metering.until('metering to drain the topic', async () => {
    const done = await processed();
    if (performance.now() - lastReport > 5_000) {
      say(`    … metering has applied ${done.toLocaleString('en-US')} of ${opts.events.toLocaleString('en-US')}`);
      lastReport = performance.now();
    }
    return done >= opts.events;
  });
  const drained = performance.now();
  const drainRate = opts.events / ((drained - metering.firstBatchAt()!) / 1000);
  const lower = Math.min(noop, copy);
  say(`  metering drain                  ${rate(drainRate)} = ${Math.round((drainRate / lower) * 100)}% of the lower limit (goal ≥ 50%)`);
  let peak = metering.peakRss();
  await metering.kill('SIGTERM');

  // Steady load: publish at `rate` events/s and watch the applied counter.
  const steadyTopic = `${topic}-steady`;
  await bus.ensureTopic(steadyTopic, DEFAULT_PARTITIONS);
  const steady = await spawnMetering({ ...env, BILLING_EVENTS_TOPIC: steadyTopic });
  const base = await processed();
  // Warm up: the consumer group has joined once the first message is applied.
  const gen = billingStream({ ...stream, events: opts.rate * opts['latency-seconds'] + 1, prefix: `${prefix}s` });
  await bus.publish(steadyTopic, [gen.next().value!]);
  await steady.until('the first steady message applied', async () => (await processed()) >= base + 1);
  const total = opts.rate * opts['latency-seconds'];
  const published: Curve = [];
  const applied: Curve = [];
  let sent = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      applied.push([performance.now(), (await processed()) - base - 1]);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  started = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * opts.rate));
    const batch = [];
    while (sent + batch.length < due) batch.push(gen.next().value!);
    if (batch.length > 0) {
      await bus.publish(steadyTopic, batch);
      sent += batch.length;
      published.push([performance.now(), sent]);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await steady.until('every steady message applied', () => applied.at(-1)![1] >= total);
  polling = false;
  await poller;
  const lat = latencies(published, applied, total);
  say(
    `  latency at ${opts.rate.toLocaleString('en-US')} events/s         p50 ${Math.round(percentile(lat, 0.5))} ms, p99 ${Math.round(percentile(lat, 0.99))} ms (publish durable → usage committed, ${opts['latency-seconds']} s)`,
  );
  peak = Math.max(peak, steady.peakRss());
  await steady.kill('SIGTERM');
  say(`  peak RSS of the metering process ${Math.round(peak / 1024 / 1024)} MiB`);
  // What the database must write whatever metering does: the events and the
  // usage they produced, under the same keys and exclusion constraints. Last,
  // so its checkpoint cannot disturb the latency run.
  const floor = opts.events / ((eventsCopyMs + (await copyUsageMs(infra.databaseUrl, prefix))) / 1000);
  say(
    `  floor: COPY of events + usage   ${rate(floor)} = ${Math.round((floor / lower) * 100)}% of the lower limit; metering's drain = ${Math.round((drainRate / floor) * 100)}% of it`,
  );
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? err}`);
  code = 1;
} finally {
  await bus.close();
  await pool.end();
  await infra.stop();
}
process.exit(code);
