// The real metering process draining the topic, with the CPU every process
// spent on it: metering, PostgreSQL, the broker and this benchmark.
import { machineCpu, machineUse, processCpu, sampleTree, treeCpu, treeCpuByRole, type TreeSample } from './cpu.ts';
import { spawnMetering } from './metering-process.ts';

export interface Drain {
  eventsPerSecond: number;
  peakRss: number;
  /** µs of CPU per event by process, over the drain (after metering's first batch). */
  cpuPerEvent: { metering: number; postgres: number | undefined; broker: number | undefined; bench: number };
  /** PostgreSQL's µs per event by role (client backends, WAL writer, checkpointer, …). */
  postgresByRole: Map<string, number>;
  /** The whole machine over the drain: a drain with every core busy is bound by CPU. */
  machine: ReturnType<typeof machineUse>;
}

export interface DrainOptions {
  env: Record<string, string>;
  events: number;
  /** Messages metering has counted so far (its committed counters). */
  processed: () => Promise<number>;
  postmaster: number | undefined;
  kafkaPid: number | undefined;
  say: (line: string) => void;
}

export async function drain(o: DrainOptions): Promise<Drain> {
  const metering = await spawnMetering(o.env);
  const pid = metering.child.pid!;
  await metering.until('metering’s first batch', () => metering.firstBatchAt() !== undefined);
  const sample = () => ({
    metering: processCpu(pid),
    postgres: o.postmaster === undefined ? undefined : sampleTree(o.postmaster),
    broker: processCpu(o.kafkaPid),
    bench: process.cpuUsage(),
    machine: machineCpu(),
  });
  const from = { ...sample(), at: await o.processed() };
  let lastReport = performance.now();
  await metering.until('metering to drain the topic', async () => {
    const done = await o.processed();
    if (performance.now() - lastReport > 5_000) {
      o.say(`    … metering has applied ${done.toLocaleString('en-US')} of ${o.events.toLocaleString('en-US')}`);
      lastReport = performance.now();
    }
    return done >= o.events;
  });
  const drained = performance.now();
  const to = { ...sample(), at: await o.processed() };
  const n = to.at - from.at;
  const us = (seconds: number) => (seconds * 1e6) / n;
  const bench = process.cpuUsage(from.bench);
  const result: Drain = {
    eventsPerSecond: o.events / ((drained - metering.firstBatchAt()!) / 1000),
    peakRss: metering.peakRss(),
    cpuPerEvent: {
      metering: us(to.metering - from.metering),
      postgres: from.postgres && to.postgres ? us(treeCpu(from.postgres as TreeSample, to.postgres)) : undefined,
      broker: o.kafkaPid === undefined ? undefined : us(to.broker - from.broker),
      bench: us((bench.user + bench.system) / 1e6),
    },
    machine: machineUse(from.machine, to.machine),
    postgresByRole: new Map(
      from.postgres && to.postgres ? [...treeCpuByRole(from.postgres, to.postgres)].map(([role, seconds]) => [role, us(seconds)]) : [],
    ),
  };
  await metering.kill('SIGTERM');
  return result;
}
