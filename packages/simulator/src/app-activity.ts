// What runs on one app over the window: its web dynos cycled daily, a worker
// that scales out now and then, one-off `run.NNNN` dynos, and add-ons whose
// plans change. Each process slot and each add-on draws from its own stream
// and walks forward in time until the window's end, so a longer window adds
// events after the shorter one's end and changes none before it.
import { ADDON_SERVICES, addonService, ADJECTIVES, ONE_OFF_SIZES, WEB_SIZES, WORKER_SIZES } from './catalog.ts';
import type { EventLog } from './event-log.ts';
import { Rng } from './prng.ts';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Whole seconds, so every `time` reads like a publisher's. */
export const wholeSeconds = (ms: number): number => Math.round(ms / SECOND) * SECOND;

export interface PlannedAddon {
  service: string;
  plan: string;
  at: number;
}

/** An app's shape, decided up front from its own stream. */
export interface AppPlan {
  index: number;
  id: string;
  owner: string;
  /** web.1 … web.N, all of one size; 0 for an app without a web process. */
  webSlots: number;
  webSize: string;
  worker: { size: string; scales: boolean } | undefined;
  /** Mean time between one-off dynos; undefined when nobody runs any. */
  oneOffEvery: number | undefined;
  addons: PlannedAddon[];
}

export interface Simulation {
  log: EventLog;
  /** Names every stream of this platform: the seed and the window's start. */
  key: string;
  fromMs: number;
  toMs: number;
  /** Subjects handed out so far: a subject names one entity only. */
  subjects: Set<string>;
}

export function stream(sim: Simulation, ...parts: (string | number)[]): Rng {
  return Rng.stream(sim.key, ...parts);
}

/** A new subject from `make`, drawn again in the unlikely case it is taken. */
export function claim(sim: Simulation, make: () => string): string {
  for (;;) {
    const id = make();
    if (!sim.subjects.has(id)) {
      sim.subjects.add(id);
      return id;
    }
  }
}

export function planApp(sim: Simulation, index: number, id: string, owner: string, without: ReadonlySet<string>): AppPlan {
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
  const addons: PlannedAddon[] = [];
  for (const s of ADDON_SERVICES) {
    if (without.has(s.service) || !rng.chance(s.share)) continue;
    // Most start on one of the small plans.
    const plan = s.plans[rng.int(0, Math.min(2, s.plans.length - 1))]!;
    addons.push({ service: s.service, plan, at: sim.fromMs + rng.int(30, 900) * SECOND });
  }
  // Now and then an app gets a new add-on part-way through.
  const missing = ADDON_SERVICES.filter((s) => !without.has(s.service) && !addons.some((a) => a.service === s.service));
  if (missing.length > 0 && rng.chance(0.25)) {
    const s = rng.pick(missing);
    addons.push({ service: s.service, plan: s.plans[0]!, at: wholeSeconds(sim.fromMs + rng.between(2, 45) * DAY) });
  }
  return { index, id, owner, webSlots, webSize, worker, oneOffEvery, addons };
}

/** Emits everything that runs on the app from the window's start on (the app itself already exists). */
export function runApp(sim: Simulation, app: AppPlan): void {
  for (const [k, a] of app.addons.entries()) runAddon(sim, stream(sim, 'app', app.index, 'addon', k), app.id, a);
  for (let n = 1; n <= app.webSlots; n++) {
    runCycled(sim, stream(sim, 'app', app.index, `web.${n}`), app.id, `web.${n}`, app.webSize);
  }
  if (app.worker) {
    runCycled(sim, stream(sim, 'app', app.index, 'worker.1'), app.id, 'worker.1', app.worker.size);
    if (app.worker.scales) runScaling(sim, stream(sim, 'app', app.index, 'scaling'), app.id, app.worker.size);
  }
  if (app.oneOffEvery !== undefined) runOneOffs(sim, stream(sim, 'app', app.index, 'run'), app.id, app.oneOffEvery);
}

export const newDyno = (sim: Simulation, rng: Rng): string => claim(sim, () => `dyno-${rng.token(12)}`);

export function newAddon(sim: Simulation, rng: Rng, service: string): string {
  const { prefix } = addonService(service);
  return claim(sim, () => `${prefix}-${rng.pick(ADJECTIVES)}-${rng.int(10000, 99999)}`);
}

/**
 * A process slot that always runs, cycled like Heroku's dynos: every 24 hours
 * plus up to 216 minutes a new instance starts and, a few seconds later, the
 * old one stops, so the slot briefly has two dynos.
 */
function runCycled(sim: Simulation, rng: Rng, app: string, name: string, size: string): void {
  let dyno = newDyno(sim, rng);
  let t = sim.fromMs + rng.int(20, 180) * SECOND;
  sim.log.dynoStarted(t, dyno, app, name, size);
  for (;;) {
    t += DAY + rng.int(0, 216 * 60) * SECOND;
    if (t >= sim.toMs) return;
    const next = newDyno(sim, rng);
    sim.log.dynoStarted(t, next, app, name, size);
    sim.log.dynoStopped(t + rng.int(2, 30) * SECOND, dyno, app);
    dyno = next;
  }
}

/** Busy hours: worker.2 (and worker.3) come up for a few hours, then go away. */
function runScaling(sim: Simulation, rng: Rng, app: string, size: string): void {
  let t = wholeSeconds(sim.fromMs + rng.between(2 * HOUR, 3 * DAY));
  while (t < sim.toMs) {
    const count = rng.pick([2, 3]);
    const end = wholeSeconds(t + rng.between(1 * HOUR, 14 * HOUR));
    let start = t;
    for (let k = 2; k <= count; k++) {
      const dyno = newDyno(sim, rng);
      sim.log.dynoStarted(start, dyno, app, `worker.${k}`, size);
      sim.log.dynoStopped(end + rng.int(0, 30) * SECOND, dyno, app);
      start += rng.int(1, 20) * SECOND;
    }
    t = wholeSeconds(end + rng.between(8 * HOUR, 4 * DAY));
  }
}

/** `heroku run`: a console or a migration, mostly minutes long. */
function runOneOffs(sim: Simulation, rng: Rng, app: string, every: number): void {
  let t = wholeSeconds(sim.fromMs + MINUTE + rng.exponential(every));
  while (t < sim.toMs) {
    const dyno = newDyno(sim, rng);
    const minutes = rng.chance(0.7) ? rng.between(0.3, 5) : rng.between(5, 50);
    sim.log.dynoStarted(t, dyno, app, `run.${rng.int(1000, 9999)}`, rng.weighted(ONE_OFF_SIZES));
    sim.log.dynoStopped(wholeSeconds(t + minutes * MINUTE), dyno, app);
    t = wholeSeconds(t + MINUTE + minutes * MINUTE + rng.exponential(every));
  }
}

/** Provisioned, then now and then a plan change (mostly up), until perhaps destroyed. */
function runAddon(sim: Simulation, rng: Rng, app: string, planned: PlannedAddon): void {
  const { plans } = addonService(planned.service);
  const addon = newAddon(sim, rng, planned.service);
  let plan = plans.indexOf(planned.plan);
  let t = planned.at;
  sim.log.addonProvisioned(t, addon, app, planned.service, planned.plan);
  for (;;) {
    t = wholeSeconds(t + HOUR + rng.exponential(25 * DAY));
    if (t >= sim.toMs) return;
    if (rng.chance(0.2)) {
      sim.log.addonDeprovisioned(t, addon, app);
      return;
    }
    if (plans.length < 2) continue;
    plan = plan + 1 < plans.length && (plan === 0 || rng.chance(0.75)) ? plan + 1 : plan - 1;
    sim.log.addonPlanChanged(t, addon, app, plans[plan]!);
  }
}
