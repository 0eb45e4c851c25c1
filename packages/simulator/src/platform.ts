// A whole platform's billing events over a window: apps of several accounts
// with their dynos and add-ons, one app transfer, a few re-sent duplicates,
// and the late events that arrive after the oldest month is finalized.
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { BillingEvent, EventType } from '@vault/contracts';
import { ADJECTIVES, LATE_ONE_OFF_SIZE, NOUNS } from './catalog.ts';
import {
  claim,
  DAY,
  HOUR,
  MINUTE,
  newAddon,
  newDyno,
  planApp,
  runApp,
  SECOND,
  stream,
  wholeSeconds,
  type AppPlan,
  type Simulation,
} from './app-activity.ts';
import { EventLog, rfc3339, type Timed } from './event-log.ts';
import { hash32 } from './prng.ts';

export const DEMO_ACCOUNT = 'acct-demo';

const Instant = z.custom<DateTime>((v) => v instanceof DateTime && v.isValid, { error: 'must be a valid luxon DateTime' });

export const SimulationOptions = z
  .object({
    /** Names the platform: the same seed and window give the same events. */
    seed: z.int(),
    /** The window's start (inclusive): every app exists from this instant. */
    from: Instant,
    /** The window's end (exclusive), usually now: nothing happens at or after it. */
    to: Instant,
    apps: z.int().min(2).max(10_000).default(36),
    accounts: z.int().min(2).max(9_999).default(8),
  })
  .refine((o) => o.to.toMillis() - o.from.toMillis() >= DAY, { error: 'the window must be at least one day long', path: ['to'] })
  .refine((o) => o.from.toUTC().startOf('month').plus({ months: 1 }).toMillis() - o.from.toMillis() >= HOUR, {
    error: 'must be at least an hour before the end of its month (the late events happen in that month)',
    path: ['from'],
  });
export type SimulationOptions = z.input<typeof SimulationOptions>;

export interface SimulationSummary {
  seed: number;
  window: { from: string; to: string };
  apps: number;
  accounts: number;
  demoAccount: string;
  /** Lines in `events`, duplicates included. */
  events: number;
  /** Re-sent copies among `events`. */
  duplicates: number;
  late: number;
  types: Record<EventType, number>;
  transfer: { app_id: string; from_account: string; to_account: string; time: string };
}

export interface Simulated {
  /** In publish order: by time, each subject's events in sequence order, re-sent copies some way after their original. */
  events: BillingEvent[];
  /** Events of the window's oldest month to publish after it is finalized; each is the last event of its subject. */
  late: BillingEvent[];
  demoAccount: string;
  /** Every account, the demo account first. */
  accounts: string[];
  /** Every app and the account that owns it at `from`. */
  apps: { id: string; owner: string }[];
  summary: SimulationSummary;
}

/**
 * Simulates the platform's publishers over [from, to). Pure and deterministic:
 * the same options give the same events. The platform is named by the seed and
 * `from`, and every part of it walks forward in time on its own stream, so a
 * later `to` on the same day, or past four weeks and the oldest month's end,
 * repeats every earlier event identically and only adds more: publishing
 * again is a no-op for what was already published.
 */
export function simulatePlatform(options: SimulationOptions): Simulated {
  const parsed = SimulationOptions.safeParse(options);
  if (!parsed.success) {
    throw new RangeError(`simulatePlatform: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'} ${i.message}`).join('; ')}`);
  }
  const o = parsed.data;
  const from = o.from.toUTC();
  const sim: Simulation = {
    log: new EventLog(),
    key: `${o.seed}/${from.toMillis()}`,
    fromMs: from.toMillis(),
    toMs: o.to.toMillis(),
    subjects: new Set(),
  };
  // Things dated by the window (the transfer, the late events) use its length in
  // whole days, at most four weeks: runs later on the same day, or any time
  // after that, date them the same, so publishing again is a no-op for them.
  const wholeDays = Math.floor((sim.toMs - sim.fromMs) / DAY) * DAY;
  const span = Math.min(wholeDays, 28 * DAY);
  const firstMonthEnd = Math.min(from.startOf('month').plus({ months: 1 }).toMillis(), sim.fromMs + wholeDays);

  const accounts = [DEMO_ACCOUNT, ...Array.from({ length: o.accounts - 1 }, (_, i) => `acct-${String(i + 2).padStart(4, '0')}`)];
  // The demo account owns several apps; the rest are dealt round the other accounts.
  const demoApps = Math.min(o.apps - 1, Math.max(2, Math.ceil(o.apps / o.accounts) + 1));
  const names = stream(sim, 'names');
  const apps = Array.from({ length: o.apps }, (_, i) => ({
    id: claim(sim, () => `${names.pick(ADJECTIVES)}-${names.pick(NOUNS)}-${names.int(1000, 9999)}`),
    owner: i < demoApps ? DEMO_ACCOUNT : accounts[1 + ((i - demoApps) % (accounts.length - 1))]!,
  }));
  // App 0 (the demo's) hosts the late events; app 1 the add-on that is changed and then destroyed.
  const LATE_HOST = 0;
  const SHOWCASE = 1;

  for (const app of apps) sim.log.ownerChanged(sim.fromMs, app.id, app.owner);
  const plans: AppPlan[] = apps.map((app, i) => {
    const without = new Set(i === LATE_HOST ? ['heroku-redis'] : i === SHOWCASE ? ['papertrail'] : []);
    return planApp(sim, i, app.id, app.owner, without);
  });
  for (const plan of plans) runApp(sim, plan);

  const showcase = stream(sim, 'showcase');
  const showcaseAddon = newAddon(sim, showcase, 'papertrail');
  sim.log.addonProvisioned(wholeSeconds(sim.fromMs + 0.1 * span), showcaseAddon, apps[SHOWCASE]!.id, 'papertrail', 'choklad');
  sim.log.addonPlanChanged(wholeSeconds(sim.fromMs + 0.35 * span), showcaseAddon, apps[SHOWCASE]!.id, 'fixa');
  sim.log.addonDeprovisioned(wholeSeconds(sim.fromMs + 0.75 * span), showcaseAddon, apps[SHOWCASE]!.id);

  const transfer = planTransfer(sim, apps, accounts, demoApps, LATE_HOST, span);
  sim.log.ownerChanged(transfer.ms, transfer.app, transfer.to);

  const late = lateEvents(sim, apps[LATE_HOST]!.id, firstMonthEnd);

  const lateSet = new Set<BillingEvent>(late);
  const originals = sim.log.all.filter((t) => t.ms < sim.toMs && !lateSet.has(t.event)).sort((a, b) => a.ms - b.ms);
  const { events, duplicates } = withResent(sim.key, originals, apps[0]!.id);

  const types = Object.fromEntries(
    ['app.owner_changed', 'dyno.started', 'dyno.stopped', 'addon.provisioned', 'addon.plan_changed', 'addon.deprovisioned'].map((t) => [
      t,
      0,
    ]),
  ) as Record<EventType, number>;
  for (const e of events) types[e.type]++;
  return {
    events,
    late,
    demoAccount: DEMO_ACCOUNT,
    accounts,
    apps,
    summary: {
      seed: o.seed,
      window: { from: rfc3339(sim.fromMs), to: rfc3339(sim.toMs) },
      apps: apps.length,
      accounts: accounts.length,
      demoAccount: DEMO_ACCOUNT,
      events: events.length,
      duplicates,
      late: late.length,
      types,
      transfer: { app_id: transfer.app, from_account: transfer.from, to_account: transfer.to, time: rfc3339(transfer.ms) },
    },
  };
}

/** One app changes hands mid-window, into or out of the demo account (never the late events' host). */
function planTransfer(
  sim: Simulation,
  apps: { id: string; owner: string }[],
  accounts: string[],
  demoApps: number,
  lateHost: number,
  span: number,
): { app: string; from: string; to: string; ms: number } {
  const rng = stream(sim, 'transfer');
  const demoCandidates = apps.filter((_, i) => i < demoApps && i !== lateHost);
  const intoDemo = rng.chance(0.5) || demoCandidates.length === 0;
  const app = intoDemo ? rng.pick(apps.slice(demoApps)) : rng.pick(demoCandidates);
  const to = intoDemo ? DEMO_ACCOUNT : rng.pick(accounts.slice(1));
  return { app: app.id, from: app.owner, to, ms: wholeSeconds(sim.fromMs + rng.between(0.4, 0.6) * span) };
}

/**
 * Two events of the oldest month held back, each the last of its subject so
 * that leaving them out opens no sequence gap: the stop of a one-off dyno
 * (until it arrives the dyno counts as running to the month's end, so it
 * arrives as a credit) and an add-on's upgrade (a charge).
 */
function lateEvents(sim: Simulation, app: string, firstMonthEnd: number): BillingEvent[] {
  const rng = stream(sim, 'late');
  const firstSpan = firstMonthEnd - sim.fromMs;
  const started = wholeSeconds(sim.fromMs + rng.between(0.15, 0.3) * firstSpan);
  const stopped = started + Math.min(rng.int(25, 55) * MINUTE, wholeSeconds((firstMonthEnd - started) / 2));
  const dyno = newDyno(sim, rng);
  sim.log.dynoStarted(started, dyno, app, `run.${rng.int(1000, 9999)}`, LATE_ONE_OFF_SIZE);
  const stop = sim.log.dynoStopped(stopped, dyno, app);

  const addon = newAddon(sim, rng, 'heroku-redis');
  sim.log.addonProvisioned(
    sim.fromMs + Math.min(rng.int(60, 600) * SECOND, wholeSeconds(0.1 * firstSpan)),
    addon,
    app,
    'heroku-redis',
    'mini',
  );
  const upgrade = sim.log.addonPlanChanged(wholeSeconds(sim.fromMs + rng.between(0.35, 0.5) * firstSpan), addon, app, 'premium-0');
  return [stop, upgrade].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

/**
 * Delivery is at least once: about one event in 150 (and always the first
 * app's creation) is sent again, some way further down the stream. Chosen by
 * the event's id, so a longer window re-sends the same ones.
 */
function withResent(key: string, originals: Timed[], firstApp: string): { events: BillingEvent[]; duplicates: number } {
  const placed: { at: number; event: BillingEvent }[] = originals.map((t, i) => ({ at: i, event: t.event }));
  let duplicates = 0;
  originals.forEach((t, i) => {
    const { id, subject, sequence } = t.event;
    if (hash32(`${key}/resend/${id}`) % 150 !== 0 && !(subject === firstApp && sequence === 1)) return;
    const later = 1 + (hash32(`${key}/delay/${id}`) % 400);
    placed.push({ at: i + later - 0.5, event: structuredClone(t.event) });
    duplicates++;
  });
  placed.sort((a, b) => a.at - b.at);
  return { events: placed.map((p) => p.event), duplicates };
}
