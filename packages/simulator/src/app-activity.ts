// What runs on one app in one month: its web dynos cycled daily, a worker
// that scales out now and then, one-off `run.NNNN` dynos, the late host's
// scheduled job, and add-ons whose plans change. Each part of a month draws
// from its own stream, named by the platform, the app, the part and the month,
// and every dyno and add-on ends before the month does (platform-time.ts): a
// month is the same whichever window asks for it.
import { ADDON_SERVICES, addonService, ADJECTIVES, LATE_ONE_OFF_SIZE, ONE_OFF_SIZES, WEB_SIZES, WORKER_SIZES } from './catalog.ts';
import type { EventLog, Timed } from './event-log.ts';
import type { Month } from './platform-time.ts';
import { Rng } from './prng.ts';
import { subjectToken } from './subject-token.ts';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Whole seconds, so every `time` reads like a publisher's. */
export const wholeSeconds = (ms: number): number => Math.round(ms / SECOND) * SECOND;

/** The late host's scheduled job: one process name, so all its runs are one invoice line. */
export const JOB_NAME = 'scheduler.1';
/** One run of the job in each slot of this length from midnight (UTC): a day holds three. */
export const JOB_SLOT = 8 * HOUR;

/** An app's shape, decided once from its own stream: the same every month. */
export interface AppPlan {
  index: number;
  id: string;
  /** web.1 … web.N, all of one size; 0 for an app without a web process. */
  webSlots: number;
  webSize: string;
  worker: { size: string; scales: boolean } | undefined;
  /** Mean time between one-off dynos; undefined when nobody runs any. */
  oneOffEvery: number | undefined;
  /** The add-on services it has every month. */
  addons: string[];
  /** The services it may add part-way through a month. */
  occasional: string[];
  /** Runs the scheduled job whose stops the late events are. */
  job: boolean;
}

export interface Simulation {
  log: EventLog;
  /** Names every stream of this platform: its seed and size, never a window. */
  key: string;
}

export function stream(sim: Simulation, ...parts: (string | number)[]): Rng {
  return Rng.stream(sim.key, ...parts);
}

/** A subject's token, named by where it is in the platform (subject-token.ts). */
export function uniqueToken(sim: Simulation, length: number, ...parts: (string | number)[]): string {
  return subjectToken(sim.key, length, parts);
}

export function planApp(sim: Simulation, index: number, id: string, o: { without: ReadonlySet<string>; job: boolean }): AppPlan {
  const rng = stream(sim, 'app', index, 'plan');
  const shape = rng.weighted([
    ['web', 6],
    ['web+worker', 3],
    ['worker', 0.5],
    ['addons', 0.5],
  ] as const);
  const webSlots = shape === 'web' || shape === 'web+worker' ? (rng.chance(0.2) ? 2 : 1) : 0;
  const webSize = rng.weighted(WEB_SIZES);
  const worker = shape === 'web+worker' || shape === 'worker' ? { size: rng.weighted(WORKER_SIZES), scales: rng.chance(0.6) } : undefined;
  const oneOffEvery = rng.chance(0.5) ? rng.between(2, 8) * DAY : undefined;
  const addons: string[] = [];
  const occasional: string[] = [];
  for (const s of ADDON_SERVICES) {
    if (o.without.has(s.service)) continue;
    // Heroku Scheduler runs the job.
    if (rng.chance(s.share) || (o.job && s.service === 'scheduler')) addons.push(s.service);
    else occasional.push(s.service);
  }
  return { index, id, webSlots, webSize, worker, oneOffEvery, addons, occasional, job: o.job };
}

/** Emits everything that runs on the app in `month`; the job's runs, in time order, for picking the late events. */
export function runApp(sim: Simulation, month: Month, app: AppPlan): { start: number; stop: Timed }[] {
  for (const service of app.addons) {
    const rng = stream(sim, 'app', app.index, 'addon', service, month.label);
    runAddon(sim, rng, month, app, service, month.start + rng.int(30, 900) * SECOND);
  }
  // Now and then an app gets a new add-on part-way through the month.
  const extra = stream(sim, 'app', app.index, 'extra', month.label);
  if (app.occasional.length > 0 && extra.chance(0.15)) {
    const service = extra.pick(app.occasional);
    runAddon(sim, extra, month, app, service, wholeSeconds(month.start + extra.between(2, 25) * DAY));
  }
  for (let n = 1; n <= app.webSlots; n++) runCycled(sim, month, app, `web.${n}`, app.webSize);
  if (app.worker) {
    runCycled(sim, month, app, 'worker.1', app.worker.size);
    if (app.worker.scales) runScaling(sim, month, app, app.worker.size);
  }
  if (app.oneOffEvery !== undefined) runOneOffs(sim, month, app, app.oneOffEvery);
  return app.job ? runJob(sim, month, app) : [];
}

const dynoId = (sim: Simulation, ...parts: (string | number)[]): string => `dyno-${uniqueToken(sim, 12, ...parts)}`;

/**
 * A process slot that always runs, cycled like Heroku's dynos: every 24 hours
 * plus up to 216 minutes a new instance starts and, a few seconds later, the
 * old one stops, so the slot briefly has two dynos. The month's last one
 * stops just before the month ends.
 */
function runCycled(sim: Simulation, month: Month, app: AppPlan, name: string, size: string): void {
  const rng = stream(sim, 'app', app.index, name, month.label);
  let n = 0;
  const end = month.end - rng.int(1, 60) * SECOND;
  let dyno = dynoId(sim, 'app', app.index, name, month.label, n++);
  let t = month.start + rng.int(20, 180) * SECOND;
  sim.log.dynoStarted(t, dyno, app.id, name, size);
  for (;;) {
    t += DAY + rng.int(0, 216 * 60) * SECOND;
    if (t + 30 * SECOND >= end) break;
    const next = dynoId(sim, 'app', app.index, name, month.label, n++);
    sim.log.dynoStarted(t, next, app.id, name, size);
    sim.log.dynoStopped(t + rng.int(2, 30) * SECOND, dyno, app.id);
    dyno = next;
  }
  sim.log.dynoStopped(end, dyno, app.id);
}

/** Busy hours: worker.2 (and worker.3) come up for a few hours, then go away. */
function runScaling(sim: Simulation, month: Month, app: AppPlan, size: string): void {
  const rng = stream(sim, 'app', app.index, 'scaling', month.label);
  let burst = 0;
  let t = wholeSeconds(month.start + rng.between(2 * HOUR, 3 * DAY));
  while (t < month.end - 3 * HOUR) {
    const count = rng.pick([2, 3]);
    const end = Math.min(wholeSeconds(t + rng.between(1 * HOUR, 14 * HOUR)), month.end - HOUR);
    let start = t;
    for (let k = 2; k <= count; k++) {
      const dyno = dynoId(sim, 'app', app.index, 'scaling', month.label, burst, k);
      sim.log.dynoStarted(start, dyno, app.id, `worker.${k}`, size);
      sim.log.dynoStopped(end + rng.int(0, 30) * SECOND, dyno, app.id);
      start += rng.int(1, 20) * SECOND;
    }
    burst++;
    t = wholeSeconds(end + rng.between(8 * HOUR, 4 * DAY));
  }
}

/** `heroku run`: a console or a migration, mostly minutes long. */
function runOneOffs(sim: Simulation, month: Month, app: AppPlan, every: number): void {
  const rng = stream(sim, 'app', app.index, 'run', month.label);
  let n = 0;
  let t = wholeSeconds(month.start + MINUTE + rng.exponential(every));
  while (t < month.end - HOUR) {
    const dyno = dynoId(sim, 'app', app.index, 'run', month.label, n++);
    const minutes = rng.chance(0.7) ? rng.between(0.3, 5) : rng.between(5, 50);
    sim.log.dynoStarted(t, dyno, app.id, `run.${rng.int(1000, 9999)}`, rng.weighted(ONE_OFF_SIZES));
    sim.log.dynoStopped(wholeSeconds(t + minutes * MINUTE), dyno, app.id);
    t = wholeSeconds(t + MINUTE + minutes * MINUTE + rng.exponential(every));
  }
}

/**
 * The late host's scheduled job: a run of 25 to 55 minutes starting in the
 * first six hours of every eight-hour slot, so any 24 hours hold two whole
 * runs, each of them a candidate late stop (platform.ts).
 */
function runJob(sim: Simulation, month: Month, app: AppPlan): { start: number; stop: Timed }[] {
  const rng = stream(sim, 'app', app.index, 'job', month.label);
  const runs: { start: number; stop: Timed }[] = [];
  for (let slot = month.start, n = 0; slot < month.end; slot += JOB_SLOT, n++) {
    const start = slot + rng.int(5 * 60, 6 * 3600) * SECOND;
    const dyno = dynoId(sim, 'app', app.index, 'job', month.label, n);
    sim.log.dynoStarted(start, dyno, app.id, JOB_NAME, LATE_ONE_OFF_SIZE);
    const stopped = start + rng.int(25, 55) * MINUTE;
    runs.push({ start, stop: { ms: stopped, event: sim.log.dynoStopped(stopped, dyno, app.id) } });
  }
  return runs;
}

/** An add-on's name as Heroku makes it, with a unique token for the number: `postgresql-misty-k3j9x2m1q8`. */
export function addonId(sim: Simulation, rng: Rng, service: string, ...parts: (string | number)[]): string {
  return `${addonService(service).prefix}-${rng.pick(ADJECTIVES)}-${uniqueToken(sim, 10, ...parts)}`;
}

/** Provisioned, then now and then a plan change (mostly up), until destroyed: at the latest just before the month ends. */
function runAddon(sim: Simulation, rng: Rng, month: Month, app: AppPlan, service: string, at: number): void {
  const { plans } = addonService(service);
  const addon = addonId(sim, rng, service, 'app', app.index, 'addon', service, month.label);
  // Most start on one of the small plans.
  let plan = rng.int(0, Math.min(2, plans.length - 1));
  const last = month.end - rng.int(1, 60) * SECOND;
  let t = at;
  sim.log.addonProvisioned(t, addon, app.id, service, plans[plan]!);
  for (;;) {
    t = wholeSeconds(t + HOUR + rng.exponential(25 * DAY));
    if (t >= last) break;
    if (rng.chance(0.2)) {
      sim.log.addonDeprovisioned(t, addon, app.id);
      return;
    }
    if (plans.length < 2) continue;
    plan = plan + 1 < plans.length && (plan === 0 || rng.chance(0.75)) ? plan + 1 : plan - 1;
    sim.log.addonPlanChanged(t, addon, app.id, plans[plan]!);
  }
  sim.log.addonDeprovisioned(last, addon, app.id);
}
