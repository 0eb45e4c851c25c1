// `npm run bench:metering [-- --events N --latency-seconds S --rate R]`:
// metering's drain rate beside, in the same run, the limits (a kafkajs
// consumer that does nothing, a PostgreSQL COPY, median of 3) and the floor of
// the mandatory work (consume, judge, COPY the events, COPY their usage under
// the non-overlap trigger); CPU per event by process, latency at a steady
// 5,000 events/s, metering's peak RSS, and the JSON line of api.md.
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { z } from 'zod';
import { createKafkaBus } from '@vault/bus';
import { benchFlags } from '@vault/testkit';
import { migrate } from '@vault/db';
import { bootVariables, busVariables, ConfigError, loadDotEnv, parseConfig } from '@vault/runtime';
import { DEFAULT_PARTITIONS, EVENTS_TOPIC_OPTIONS } from '../src/consumer/consume.ts';
import { postmasterOf } from './cpu.ts';
import { drain } from './drain.ts';
import { copyUsageMs, judgeMs } from './floor.ts';
import { benchInfra } from './infra.ts';
import { latencies, percentile, type Curve } from './latency.ts';
import { copyEventsMs, median, noopConsumerRate } from './limits.ts';
import { spawnMetering } from './metering-process.ts';
import { readCounters } from '../src/reports/store.ts';
import { storageLine, storagePerMillion } from './storage.ts';
import { billingStream, type StreamOptions } from './stream.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

const Options = z.object({
  events: z.coerce.number().int().min(1000).default(500_000),
  'latency-seconds': z.coerce.number().int().min(1).default(20),
  rate: z.coerce.number().int().min(1).default(5_000),
  // Where the benchmark's own servers keep their state, and their ports: two
  // benchmarks on one machine must not share them.
  state: z.string().min(1).optional(),
  'pg-port': z.coerce.number().int().min(1).max(65535).default(55434),
  'kafka-port': z.coerce.number().int().min(1).max(65535).default(19192),
});

const values = benchFlags(
  Object.fromEntries(['events', 'latency-seconds', 'rate', 'state', 'pg-port', 'kafka-port'].map((o) => [o, { type: 'string' as const }])),
);
const parsed = Options.safeParse(values);
if (!parsed.success) {
  console.error(`bench: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const opts = parsed.data;
loadDotEnv();
// Only the servers' variables: the benchmark is no deployment, and needs no admin token.
const BenchSettings = z.object({ DATABASE_URL: bootVariables.DATABASE_URL, KAFKA_BROKERS: busVariables.KAFKA_BROKERS });
let settings: z.infer<typeof BenchSettings>;
try {
  settings = parseConfig(BenchSettings);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`bench: ${err.message}`);
  process.exit(2);
}
const say = (line: string) => console.log(line);
const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} events/s`;

const infra = await benchInfra(
  { home: opts.state ?? `${ROOT}.vault/bench`, pgPort: opts['pg-port'], kafkaPort: opts['kafka-port'] },
  { DATABASE_URL: settings.DATABASE_URL, KAFKA_BROKERS: settings.KAFKA_BROKERS },
  say,
);
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
  await bus.ensureTopic(topic, DEFAULT_PARTITIONS, EVENTS_TOPIC_OPTIONS);
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
  const copies = await copyEventsMs(infra.databaseUrl, stream);
  const eventsCopyMs = median(copies);
  const copy = opts.events / (eventsCopyMs / 1000);
  say(
    `  limit: PostgreSQL COPY          ${rate(copy).replace('events', 'rows')} (median of ${copies.map((ms) => rate(opts.events / (ms / 1000)).replace(' events/s', '')).join(', ')})`,
  );
  const lower = Math.min(noop, copy);
  const judged = judgeMs(stream);
  say(`  floor: judging every message    ${((judged * 1000) / opts.events).toFixed(2)} µs per message (in this process)`);

  const env = {
    DATABASE_URL: infra.databaseUrl,
    KAFKA_BROKERS: infra.brokers.join(','),
    BILLING_EVENTS_TOPIC: topic,
    METERING_CONSUMER_GROUP: `bench-metering-${topic}`,
  };
  const processed = async () => Object.values(await readCounters(pool)).reduce((a, b) => a + b, 0);
  const backend = (await pool.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  const drained = await drain({ env, events: opts.events, processed, postmaster: postmasterOf(backend), kafkaPid: infra.kafkaPid, say });
  const drainRate = drained.eventsPerSecond;
  say(`  metering drain                  ${rate(drainRate)} = ${Math.round((drainRate / lower) * 100)}% of the lower limit (goal ≥ 50%)`);
  const cpu = drained.cpuPerEvent;
  const us = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(1)} µs`);
  say(
    `  CPU per event during the drain  metering ${us(cpu.metering)}, PostgreSQL ${us(cpu.postgres)}, broker ${us(cpu.broker)}, ` +
      `this benchmark ${us(cpu.bench)}; ${us(cpu.metering + (cpu.postgres ?? 0) + (cpu.broker ?? 0))} in all on ${DEFAULT_PARTITIONS} partitions`,
  );
  const roles = [...drained.postgresByRole].filter(([, x]) => x >= 0.05).sort(([, a], [, b]) => b - a);
  if (roles.length > 0) say(`  PostgreSQL's by process         ${roles.map(([role, x]) => `${role} ${us(x)}`).join(', ')}`);
  const m = drained.machine;
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  say(
    `  the machine during the drain    ${m.coresBusy.toFixed(2)} of ${m.cores} cores busy (iowait ${pct(m.iowait)}, stolen ${pct(m.steal)})`,
  );
  let peak = drained.peakRss;
  // Before the steady load and the floor's COPY add rows of their own.
  const storage = await storagePerMillion(pool, opts.events);
  say(`  ${storageLine(storage)}`);

  // Steady load: publish at `rate` events/s and watch the applied counter.
  const steadyTopic = `${topic}-steady`;
  await bus.ensureTopic(steadyTopic, DEFAULT_PARTITIONS, EVENTS_TOPIC_OPTIONS);
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
  // The rest of the floor: the usage metering derived, written again under
  // other subjects into its own tables (the trigger included). Last, so its
  // checkpoint cannot disturb the latency run.
  const usage = await copyUsageMs(infra.databaseUrl, prefix);
  const floorMs = (opts.events / noop) * 1000 + judged + eventsCopyMs + usage.ms;
  const floor = opts.events / (floorMs / 1000);
  say(
    `  floor: consume + judge + COPY of events + COPY of ${usage.rows.toLocaleString('en-US')} usage rows (2,000 a transaction): ` +
      `${rate(floor)} = ${Math.round((floor / lower) * 100)}% of the lower limit; metering's drain = ${Math.round((drainRate / floor) * 100)}% of it`,
  );
  say(
    `  (usage COPY alone: ${((usage.ms * 1000) / Math.max(1, usage.rows)).toFixed(1)} µs per row; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  console.log(
    JSON.stringify({
      bench: 'metering',
      events: opts.events,
      drain_eps: Math.round(drainRate),
      noop_eps: Math.round(noop),
      copy_rps: Math.round(copy),
      ratio: Number((drainRate / lower).toFixed(3)),
      p50_ms: Math.round(percentile(lat, 0.5)),
      p99_ms: Math.round(percentile(lat, 0.99)),
      peak_rss_mib: Math.round(peak / 1024 / 1024),
      bytes_per_million_events: Math.round(storage.perMillion),
    }),
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
