// Random platform histories for test/late-usage-converges.test.ts: 2–3 apps
// owned by 2–3 accounts (created September 1, then transferred), dynos and
// add-ons (plan changes, now and then naming another app, deprovisionings),
// September to December 2026; each event arrives at an instant of its own,
// on time or days or months late, so sequences have holes that fill later;
// now and then a publisher repeats a sequence number under another id with
// other content (another app, account, plan, stop time, or a deprovisioning),
// or a message is delivered twice. Finalize runs at each month's due time and
// at random instants after, then once more after the last arrival.
import fc from 'fast-check';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = Date.parse('2026-09-01T00:00:00Z');
/** Every event happens before this, on an hour. */
const END = Date.parse('2027-01-01T00:00:00Z');
const HOURS = (END - START) / HOUR;
/** Every event has arrived by then … */
export const LAST_ARRIVAL = Date.parse('2027-02-02T00:00:00Z');
/** … and every due month is finalized once more at this instant (January is due February 4). */
export const FINAL_RUN = Date.parse('2027-02-05T00:00:00Z');
export const GRACE_HOURS = 72;
/** The months finalized by FINAL_RUN, with their due instants (end + grace). */
export const MONTHS = ['2026-09', '2026-10', '2026-11', '2026-12', '2027-01'].map((key) => {
  const [y, m] = key.split('-').map(Number) as [number, number];
  return { key, due: Date.UTC(y, m, 1) + GRACE_HOURS * HOUR };
});

const SIZES = ['basic', 'standard-1x', 'standard-2x'] as const;
const PLANS = ['essential-0', 'essential-1', 'essential-2'] as const;
const ACCOUNT_NAMES = ['acct-a', 'acct-b', 'acct-c'];
const APP_NAMES = ['app-x', 'app-y', 'app-z'];

export interface PlatformEvent {
  id: string;
  subject: string;
  sequence: number;
  type: string;
  time: number;
  data: Record<string, string>;
}

export interface Arrival {
  event: PlatformEvent;
  at: number;
  /** '' for the publisher's event, 'repeat' for another id with its sequence, 'duplicate' for the same bytes again. */
  kind: '' | 'repeat' | 'duplicate';
}

export interface History {
  accounts: string[];
  apps: string[];
  arrivals: Arrival[];
  /** Instants of finalize runs, ascending; the last is FINAL_RUN. */
  runs: number[];
  /** Invoicing's usage fold runs after every arrival (as in production, within a second), or never (its lag: all read live). */
  fold: boolean;
}

/** Minutes after an event's time that it arrives: mostly on time, often days or months late. */
const delay = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 30 }) },
  { weight: 2, arbitrary: fc.integer({ min: 60, max: 20 * 24 * 60 }) },
  { weight: 2, arbitrary: fc.integer({ min: 20 * 24 * 60, max: 130 * 24 * 60 }) },
);
const hour = fc.integer({ min: 0, max: HOURS - 1 });
const pick = fc.nat({ max: 2 });

const arb = fc.record({
  accounts: fc.integer({ min: 2, max: 3 }),
  apps: fc.integer({ min: 2, max: 3 }),
  owners: fc.tuple(
    ...APP_NAMES.map(() =>
      fc.record({
        first: pick,
        delay,
        transfers: fc.array(fc.record({ at: hour, to: pick, delay }), { maxLength: 2 }),
      }),
    ),
  ),
  dynos: fc.array(
    fc.record({
      app: pick,
      name: fc.constantFrom('web.1', 'worker.1'),
      size: fc.constantFrom(...SIZES),
      start: hour,
      delay,
      // 0: stopped at its own start (an empty span).
      stop: fc.option(fc.record({ after: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1500 })), delay }), { nil: null, freq: 3 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  addons: fc.array(
    fc.record({
      app: pick,
      plan: fc.constantFrom(...PLANS),
      start: hour,
      delay,
      changes: fc.array(
        fc.record({
          after: fc.integer({ min: 0, max: 900 }),
          plan: fc.constantFrom(...PLANS),
          // A plan change naming another app (the add-on moves), now and then.
          app: fc.option(pick, { nil: null, freq: 2 }),
          delay,
        }),
        { maxLength: 3 },
      ),
      deprovision: fc.option(fc.record({ after: fc.integer({ min: 0, max: 900 }), delay }), { nil: null, freq: 3 }),
    }),
    { minLength: 1, maxLength: 2 },
  ),
  repeats: fc.array(fc.record({ target: fc.nat({ max: 999 }), variant: fc.nat({ max: 999 }), wins: fc.boolean(), delay }), {
    maxLength: 4,
  }),
  duplicates: fc.array(fc.record({ target: fc.nat({ max: 999 }), delay }), { maxLength: 2 }),
  // Finalize runs besides each month's due time: between October's first due time and the last arrival.
  runs: fc.array(fc.integer({ min: 0, max: (LAST_ARRIVAL - MONTHS[0]!.due) / HOUR }), { maxLength: 3 }),
  fold: fc.boolean(),
});
export type Spec = typeof arb extends fc.Arbitrary<infer T> ? T : never;

const clampTime = (t: number) => Math.min(t, END - HOUR);
const arriving = (time: number, minutes: number) => Math.min(time + minutes * MINUTE, LAST_ARRIVAL);

export function build(spec: Spec): History {
  const accounts = ACCOUNT_NAMES.slice(0, spec.accounts);
  const apps = APP_NAMES.slice(0, spec.apps);
  const account = (i: number) => accounts[i % accounts.length]!;
  const app = (i: number) => apps[i % apps.length]!;
  const arrivals: Arrival[] = [];
  const emit = (subject: string, sequence: number, type: string, time: number, data: Record<string, string>, minutes: number) => {
    const event = { id: `m-${subject}-${sequence}`, subject, sequence, type, time, data };
    arrivals.push({ event, at: arriving(time, minutes), kind: '' });
  };

  spec.owners.slice(0, apps.length).forEach((o, i) => {
    const a = app(i);
    // Created September 1, before any usage: no usage is left unowned once everything has come.
    emit(a, 1, 'app.owner_changed', START, { app_id: a, account_id: account(o.first) }, o.delay);
    const transfers = [...o.transfers].sort((p, q) => p.at - q.at);
    for (const [k, t] of transfers.entries())
      emit(a, k + 2, 'app.owner_changed', START + t.at * HOUR, { app_id: a, account_id: account(t.to) }, t.delay);
  });
  spec.dynos.forEach((d, i) => {
    const subject = `dyno-${i + 1}`;
    const start = START + d.start * HOUR;
    emit(subject, 1, 'dyno.started', start, { app_id: app(d.app), name: d.name, size: d.size }, d.delay);
    if (d.stop) emit(subject, 2, 'dyno.stopped', clampTime(start + d.stop.after * HOUR), { app_id: app(d.app) }, d.stop.delay);
  });
  spec.addons.forEach((p, i) => {
    const subject = `addon-${i + 1}`;
    let t = START + p.start * HOUR;
    let on = app(p.app);
    emit(subject, 1, 'addon.provisioned', t, { app_id: on, service: 'heroku-postgresql', plan: p.plan }, p.delay);
    p.changes.forEach((c, k) => {
      t = clampTime(t + c.after * HOUR);
      if (c.app !== null) on = app(c.app);
      emit(subject, k + 2, 'addon.plan_changed', t, { app_id: on, plan: c.plan }, c.delay);
    });
    if (p.deprovision)
      emit(
        subject,
        p.changes.length + 2,
        'addon.deprovisioned',
        clampTime(t + p.deprovision.after * HOUR),
        { app_id: on },
        p.deprovision.delay,
      );
  });

  const published = arrivals.slice();
  const ids = new Set(published.map((a) => a.event.id));
  // A repeat's or duplicate's target: a subject, then one of its events (each subject as likely).
  const subjects = [...new Set(published.map((a) => a.event.subject))];
  const target = (n: number) => {
    const of = published.filter((a) => a.event.subject === subjects[n % subjects.length]);
    return of[Math.floor(n / subjects.length) % of.length]!;
  };
  for (const r of spec.repeats) {
    const original = target(r.target).event;
    // The copy that counts is the earliest time, then source, then id: 'a-…' sorts before 'm-…', 'z-…' after.
    const copy = { ...original, id: `${r.wins ? 'a' : 'z'}-${original.subject}-${original.sequence}`, data: { ...original.data } };
    if (ids.has(copy.id)) continue;
    ids.add(copy.id);
    const other = (list: readonly string[], current: string | undefined) =>
      list.filter((x) => x !== current)[r.variant % (list.length - 1)] ?? list[0]!;
    switch (original.type) {
      case 'app.owner_changed':
        copy.data.account_id = other(accounts, original.data.account_id);
        break;
      case 'dyno.started':
        if (r.variant % 2 === 0) copy.data.app_id = other(apps, original.data.app_id);
        else copy.data.size = other(SIZES, original.data.size);
        break;
      case 'dyno.stopped': {
        // Another stop time: an earlier one counts whatever the id.
        const shift = (1 + (r.variant % 300)) * HOUR * (r.variant % 2 === 0 ? -1 : 1);
        copy.time = Math.max(START, clampTime(original.time + shift));
        break;
      }
      case 'addon.provisioned':
        // Never a deprovisioning: metering refuses one at sequence 1.
        if (r.variant % 2 === 0) copy.data.app_id = other(apps, original.data.app_id);
        else copy.data.plan = other(PLANS, original.data.plan);
        break;
      case 'addon.plan_changed':
        if (r.variant % 4 === 0) copy.data.app_id = other(apps, original.data.app_id);
        else if (r.variant % 4 === 1) copy.data.plan = other(PLANS, original.data.plan);
        else {
          copy.type = 'addon.deprovisioned';
          delete copy.data.plan;
        }
        break;
      default:
        // A deprovisioning repeated as a plan change: the add-on goes on.
        copy.type = 'addon.plan_changed';
        copy.data.plan = PLANS[r.variant % PLANS.length]!;
    }
    arrivals.push({ event: copy, at: arriving(copy.time, r.delay), kind: 'repeat' });
  }
  for (const d of spec.duplicates) {
    const original = target(d.target);
    arrivals.push({ event: original.event, at: Math.min(original.at + d.delay * MINUTE, LAST_ARRIVAL), kind: 'duplicate' });
  }

  const runs = [...new Set([...MONTHS.slice(0, 4).map((m) => m.due), ...spec.runs.map((h) => MONTHS[0]!.due + h * HOUR), FINAL_RUN])];
  runs.sort((p, q) => p - q);
  return { accounts, apps, arrivals, runs, fold: spec.fold };
}

export const histories: fc.Arbitrary<History> = arb.map(build);

/** The event as a platform publisher sends it (CloudEvents 1.0, structured JSON). */
export const raw = (e: PlatformEvent) =>
  JSON.stringify({
    specversion: '1.0',
    id: e.id,
    source: 'platform',
    type: e.type,
    time: new Date(e.time).toISOString(),
    subject: e.subject,
    sequence: e.sequence,
    data: e.data,
  });

const iso = (t: number) => new Date(t).toISOString().replace(':00.000Z', 'Z');

/** The history as a timeline a person can check by hand: every event when it happened and when it arrived, and the runs. */
export function describeHistory(h: History): string {
  const lines = [`accounts ${h.accounts.join(', ')}; apps ${h.apps.join(', ')}`, 'events (time → arrival):'];
  const byTime = [...h.arrivals].sort((p, q) => p.event.subject.localeCompare(q.event.subject) || p.event.sequence - q.event.sequence);
  for (const a of byTime) {
    const e = a.event;
    const late = a.at - e.time >= DAY ? ` (${((a.at - e.time) / DAY).toFixed(1)} days late)` : '';
    lines.push(
      `  ${e.subject} #${e.sequence} ${e.type} ${JSON.stringify(e.data)} at ${iso(e.time)} id ${e.id}${a.kind ? ` [${a.kind}]` : ''} → ${iso(a.at)}${late}`,
    );
  }
  lines.push(`finalize runs: ${h.runs.map(iso).join(', ')}; usage fold ${h.fold ? 'after every arrival' : 'never'}`);
  return lines.join('\n');
}
