// `npm run bench:judge [-- --events N --batch B --rounds R]`: metering's judge
// (compiled validator, one-pass canonical hash) against the judge as first
// written (judge-reference.ts), in the same run, over N events as publishers
// send them (`vault simulate --out -`): µs per event, the share of it spent in
// garbage collection, and what judging in a worker thread would cost the event
// loop instead. Ends with one JSON line.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { benchFlags } from '@vault/testkit';
import { judge, type Judged, type Received } from '../src/domain/judge.ts';
import { judgeUncompiled } from '../src/domain/judge-reference.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const Options = z.object({
  events: z.coerce.number().int().min(1000).default(100_000),
  batch: z.coerce.number().int().min(1).default(500),
  rounds: z.coerce.number().int().min(1).default(5),
});
const values = benchFlags({ events: { type: 'string' }, batch: { type: 'string' }, rounds: { type: 'string' } });
const parsed = Options.safeParse(values);
if (!parsed.success) {
  console.error(`bench: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const opts = parsed.data;
const NOW = Date.parse('2026-11-01T00:00:00Z');
const fixed = (n: number) => Number(n.toFixed(2));

/** About 90 events an app in four weeks: enough apps for N events, cycled if short. */
function simulated(n: number): Received[] {
  const apps = Math.max(2, Math.ceil(n / 85));
  const args = ['--import', 'tsx', 'bin/vault.js', 'simulate', '--seed', '20', '--apps', String(apps), '--accounts', '60'];
  const run = spawnSync(process.execPath, [...args, '--weeks', '4', '--now', '2026-10-29T00:00:00Z', '--no-late', '--out', '-'], {
    cwd: ROOT,
    maxBuffer: 1 << 30,
  });
  if (run.status !== 0) throw new Error(`vault simulate failed: ${run.stderr.toString()}`);
  const lines = run.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
  return Array.from({ length: n }, (_, i) => ({ bytes: Buffer.from(lines[i % lines.length]!), receivedAtMs: NOW }));
}

const messages = simulated(opts.events);
const batches: Received[][] = [];
for (let i = 0; i < messages.length; i += opts.batch) batches.push(messages.slice(i, i + opts.batch));

// Both paths must answer alike on this corpus too, or the comparison means nothing
// (batch by batch, so no 100k judged events stay on the heap to slow the GC below).
for (const b of batches) {
  const [now, before] = [judge(b, NOW), judgeUncompiled(b, NOW)];
  if (
    now.valid.length !== before.valid.length ||
    now.invalid.length !== before.invalid.length ||
    now.valid.some((v, i) => v.contentHash !== before.valid[i]!.contentHash)
  ) {
    throw new Error('judge and judgeUncompiled disagree on the benchmark corpus');
  }
}

const gcSpans: { start: number; duration: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcSpans.push({ start: e.startTime, duration: e.duration });
}).observe({ entryTypes: ['gc'] });

interface Timing {
  /** CPU of the process (GC threads included) per event, the issue's measure: steadier than wall time on a busy machine. */
  us: number;
  wallUs: number;
  gcUs: number;
}
async function timed(path: (m: Received[], now: number) => Judged): Promise<Timing> {
  // Each path starts on a collected heap, not paying for the other's garbage (--expose-gc, as the npm script runs it).
  (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (const b of batches) path(b, NOW);
  const end = performance.now();
  const used = process.cpuUsage(cpu);
  await new Promise((r) => setTimeout(r, 50)); // gc entries arrive as tasks
  const gc = gcSpans.filter((s) => s.start >= start && s.start < end).reduce((a, s) => a + s.duration, 0);
  const per = (ms: number) => (ms * 1000) / messages.length;
  return { us: per((used.user + used.system) / 1000), wallUs: per(end - start), gcUs: per(gc) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const runs = { old: [] as Timing[], new: [] as Timing[] };
await timed(judgeUncompiled); // warm-up, both
await timed(judge);
for (let r = 0; r < opts.rounds; r++) {
  // Alternating which goes first spreads the machine's drift over both.
  if (r % 2 === 0) runs.old.push(await timed(judgeUncompiled));
  runs.new.push(await timed(judge));
  if (r % 2 === 1) runs.old.push(await timed(judgeUncompiled));
}
const pick = (xs: Timing[], k: keyof Timing) => median(xs.map((x) => x[k]));
const [oldUs, newUs] = [pick(runs.old, 'us'), pick(runs.new, 'us')];
const [oldGc, newGc] = [pick(runs.old, 'gcUs'), pick(runs.new, 'gcUs')];

/** Judging in a worker: the event loop only posts the bytes and receives the judged events. */
async function offLoop(): Promise<{ mainUs: number; cpuUs: number }> {
  // A worker does not take the main thread's tsx hooks: it registers them, then loads its TypeScript.
  const entry = JSON.stringify(new URL('./judge-worker.ts', import.meta.url).href);
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((t) => { t.register(); return import(${entry}); })`;
  const worker = new Worker(boot, { eval: true });
  const pending = new Map<number, () => void>();
  worker.on('message', (m: { id: number }) => {
    pending.get(m.id)?.();
    pending.delete(m.id);
  });
  const send = (id: number, b: Received[]) =>
    new Promise<void>((resolve) => {
      pending.set(id, resolve);
      worker.postMessage({ id, nowMs: NOW, messages: b.map((m) => ({ bytes: m.bytes, receivedAtMs: m.receivedAtMs })) });
    });
  const pass = async () => {
    // Two batches in flight, as a consumer would overlap judging with the database.
    let inFlight: Promise<void> | undefined;
    for (let i = 0; i < batches.length; i++) {
      const next = send(i, batches[i]!);
      if (inFlight) await inFlight;
      inFlight = next;
    }
    await inFlight;
  };
  await pass(); // warm-up
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  await pass();
  const active = performance.eventLoopUtilization(elu).active;
  const used = process.cpuUsage(cpu);
  await worker.terminate();
  return { mainUs: (active * 1000) / messages.length, cpuUs: (used.user + used.system) / messages.length };
}
const worker = await offLoop();

const cpu = `${cpus()[0]?.model.trim() ?? 'unknown CPU'} (${cpus().length} cores)`;
const say = (line: string) => console.log(line);
say(
  `judge benchmark: ${messages.length.toLocaleString('en-US')} events from vault simulate (seed 20), batches of ${opts.batch}, ` +
    `median of ${opts.rounds} rounds; Node ${process.version}, ${cpu}`,
);
say(`  before: zod runtime parser, sorted-key JSON   ${oldUs.toFixed(2)} µs CPU/event (GC pauses ${oldGc.toFixed(2)})`);
say(
  `  after: compiled validator, one-pass hash     ${newUs.toFixed(2)} µs CPU/event (GC pauses ${newGc.toFixed(2)}): ${(oldUs / newUs).toFixed(1)}× less`,
);
say(
  `  judged in a worker thread: the event loop spends ${worker.mainUs.toFixed(2)} µs/event posting bytes and receiving events ` +
    `(${((worker.mainUs / newUs) * 100).toFixed(0)}% of judging them itself), both threads ${worker.cpuUs.toFixed(2)} µs/event of CPU`,
);
console.log(
  JSON.stringify({
    bench: 'judge',
    events: messages.length,
    old_us: fixed(oldUs),
    new_us: fixed(newUs),
    speedup: fixed(oldUs / newUs),
    old_wall_us: fixed(pick(runs.old, 'wallUs')),
    new_wall_us: fixed(pick(runs.new, 'wallUs')),
    old_gc_us: fixed(oldGc),
    new_gc_us: fixed(newGc),
    worker_loop_us: fixed(worker.mainUs),
    worker_cpu_us: fixed(worker.cpuUs),
  }),
);
