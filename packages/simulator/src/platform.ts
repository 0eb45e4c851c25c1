// A whole platform's billing events over a window: apps of several accounts
// with their dynos and add-ons, apps lent between accounts, a few re-sent
// duplicates, and the late events that arrive after the oldest month is finalized.
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { BillingEvent, EventType } from '@vault/contracts';
import { ADJECTIVES, NOUNS } from './catalog.ts';
import { DAY, planApp, runApp, stream, type Simulation } from './app-activity.ts';
import { EventLog, rfc3339, type Timed } from './event-log.ts';
import { runOwnership, type OwnedApp } from './ownership.ts';
import { monthOf, monthsBetween, PLATFORM_START_MS } from './platform-time.ts';
import { hash32 } from './prng.ts';
import { runShowcase } from './showcase.ts';

export const DEMO_ACCOUNT = 'acct-demo';

const Instant = z.custom<DateTime>((v) => v instanceof DateTime && v.isValid, { error: 'must be a valid luxon DateTime' });

export const SimulationOptions = z
  .object({
    /** With `apps` and `accounts`, names the platform: the same platform on every window. */
    seed: z.int(),
    /** The window's start (inclusive). */
    from: Instant,
    /** The window's end (exclusive), usually now: nothing happens at or after it. */
    to: Instant,
    apps: z.int().min(2).max(10_000).default(36),
    accounts: z.int().min(2).max(9_999).default(8),
  })
  .refine((o) => o.to.toMillis() - o.from.toMillis() >= DAY, { error: 'the window must be at least one day long', path: ['to'] })
  .refine((o) => o.from.toMillis() >= PLATFORM_START_MS, {
    error: `must be at or after ${rfc3339(PLATFORM_START_MS)}, when the simulated platform starts`,
    path: ['from'],
  })
  .refine((o) => monthOf(o.from.toMillis()).end - o.from.toMillis() >= DAY, {
    error: 'must be at least a day before the end of its month (the late events happen in that month)',
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
  /** The apps that change hands inside the window (lent, or given back), in time order. */
  transfers: { app_id: string; from_account: string; to_account: string; time: string }[];
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
 * Simulates the platform's publishers over [from, to). Pure and deterministic.
 * The platform is named by the seed and its size alone and runs from
 * PLATFORM_START on, the same whatever the window: a window is every event
 * in [from, to), preceded by the history of what exists at `from` (each app
 * since its creation; each dyno and add-on running then since its start, in
 * `from`'s month: platform-time.ts). So two windows that overlap or meet
 * describe the same apps, dynos and add-ons with identical events: publishing
 * both gives duplicates and only the new events, never a dyno started twice or
 * a stop without its start. A later `to` repeats every earlier event
 * identically and only adds more, the late ones included once `to` is on a
 * later day or past the oldest month's end.
 */
export function simulatePlatform(options: SimulationOptions): Simulated {
  const parsed = SimulationOptions.safeParse(options);
  if (!parsed.success) {
    throw new RangeError(`simulatePlatform: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'} ${i.message}`).join('; ')}`);
  }
  const o = parsed.data;
  const fromMs = o.from.toMillis();
  const toMs = o.to.toMillis();
  const sim: Simulation = { log: new EventLog(), key: `${o.seed}/${o.apps}/${o.accounts}` };

  const accounts = [DEMO_ACCOUNT, ...Array.from({ length: o.accounts - 1 }, (_, i) => `acct-${String(i + 2).padStart(4, '0')}`)];
  // The demo account owns several apps; the rest are dealt round the other accounts.
  const demoApps = Math.min(o.apps - 1, Math.max(2, Math.ceil(o.apps / o.accounts) + 1));
  const names = stream(sim, 'names');
  const taken = new Set<string>();
  const apps: OwnedApp[] = Array.from({ length: o.apps }, (_, i) => ({
    id: claim(taken, () => `${names.pick(ADJECTIVES)}-${names.pick(NOUNS)}-${names.int(1000, 9999)}`),
    home: i < demoApps ? DEMO_ACCOUNT : accounts[1 + ((i - demoApps) % (accounts.length - 1))]!,
  }));
  // App 0 (the demo's) runs the job whose stops are the late events; app 1 the add-on that is changed and then destroyed.
  const LATE_HOST = 0;
  const SHOWCASE = 1;
  const changes = runOwnership(sim, apps, {
    demoAccount: DEMO_ACCOUNT,
    others: accounts.slice(1),
    lendIn: apps.slice(demoApps),
    lendOut: apps.slice(0, demoApps).filter((_, i) => i !== LATE_HOST && i !== SHOWCASE),
    untilMs: toMs,
  });

  const plans = apps.map((app, i) =>
    planApp(sim, i, app.id, { without: new Set(i === SHOWCASE ? ['papertrail'] : []), job: i === LATE_HOST }),
  );
  const jobRuns: { start: number; stop: Timed }[] = [];
  for (const month of monthsBetween(fromMs, toMs)) {
    for (const plan of plans) jobRuns.push(...runApp(sim, month, plan));
    runShowcase(sim, month, apps[SHOWCASE]!.id);
  }

  const lateStops = lateEvents(jobRuns, fromMs, toMs);
  const lateSet = new Set<BillingEvent>(lateStops.map((t) => t.event));
  const appIds = new Set(apps.map((a) => a.id));
  const originals = inWindow(sim.log.all, appIds, fromMs, toMs)
    .filter((t) => !lateSet.has(t.event))
    .sort((a, b) => a.ms - b.ms);
  const { events, duplicates } = withResent(sim.key, originals, apps[0]!.id);

  const types = Object.fromEntries(
    ['app.owner_changed', 'dyno.started', 'dyno.stopped', 'addon.provisioned', 'addon.plan_changed', 'addon.deprovisioned'].map((t) => [
      t,
      0,
    ]),
  ) as Record<EventType, number>;
  for (const e of events) types[e.type]++;
  const owner = new Map(apps.map((a) => [a.id, a.home]));
  for (const c of changes) if (c.ms <= fromMs) owner.set(c.app, c.to);
  const transfers = changes.filter((c) => c.ms >= fromMs && c.ms < toMs);
  return {
    events,
    late: lateStops.map((t) => t.event),
    demoAccount: DEMO_ACCOUNT,
    accounts,
    apps: apps.map((a) => ({ id: a.id, owner: owner.get(a.id)! })),
    summary: {
      seed: o.seed,
      window: { from: rfc3339(fromMs), to: rfc3339(toMs) },
      apps: apps.length,
      accounts: accounts.length,
      demoAccount: DEMO_ACCOUNT,
      events: events.length,
      duplicates,
      late: lateStops.length,
      types,
      transfers: transfers.map((c) => ({ app_id: c.app, from_account: c.from, to_account: c.to, time: rfc3339(c.ms) })),
    },
  };
}

/** A new app name from `make`, drawn again in the unlikely case it is taken. */
function claim(taken: Set<string>, make: () => string): string {
  for (;;) {
    const id = make();
    if (!taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}

/**
 * The window's part of what was built: every app's history, and each other
 * subject's events before `to` when it still exists at `from` (its last event,
 * before `to` or not, is at or after `from`) and has begun before `to`. So a
 * dyno running at `from` comes with its start, and one stopped before it is
 * left out whole.
 */
function inWindow(all: readonly Timed[], apps: ReadonlySet<string>, fromMs: number, toMs: number): Timed[] {
  const span = new Map<string, { first: number; last: number }>();
  for (const t of all) {
    const s = span.get(t.event.subject);
    if (s) s.last = t.ms;
    else span.set(t.event.subject, { first: t.ms, last: t.ms });
  }
  return all.filter((t) => {
    if (t.ms >= toMs) return false;
    const s = span.get(t.event.subject)!;
    return apps.has(t.event.subject) || (s.last >= fromMs && s.first < toMs);
  });
}

/**
 * The late events: the stops of the late host's first two job runs that lie
 * whole in the window's oldest month. Each is the last event of its dyno, so
 * leaving them out opens no sequence gap; until they arrive the dynos count as
 * running to the month's end, so they arrive as credits. The oldest month
 * ends, for this, at most the window's length in whole days after `from`:
 * runs later on the same day pick the same two.
 */
function lateEvents(runs: readonly { start: number; stop: Timed }[], fromMs: number, toMs: number): Timed[] {
  const wholeDays = Math.floor((toMs - fromMs) / DAY) * DAY;
  const firstMonthEnd = Math.min(monthOf(fromMs).end, fromMs + wholeDays);
  return runs
    .filter((r) => r.start >= fromMs && r.stop.ms < firstMonthEnd)
    .slice(0, 2)
    .map((r) => r.stop);
}

/**
 * Delivery is at least once: about one event in 150 (and always the first
 * app's creation) is sent again, some way further down the stream. Chosen by
 * the event's id, so every window re-sends the same ones.
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
