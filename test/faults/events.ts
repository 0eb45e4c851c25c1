// The fault test's events: past months of platform billing events
// (events-v1) for 20 apps over 5 accounts. Web dynos restarted with overlaps,
// workers with gaps, one-off runs, add-on plan changes, transfers and a dyno
// left running. Seeded, so the faulty run and its baseline see the same events.
import { DateTime } from 'luxon';
import { mulberry32 } from '@vault/simulator';

export interface PlatformEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  subject: string;
  sequence: number;
  data: Record<string, string>;
}

export interface EventSet {
  /** In publish order: by time, locally shuffled (other subjects, and now and then a subject's own events, out of order). */
  events: PlatformEvent[];
  /** The months, `YYYY-MM`, oldest first. */
  periods: string[];
  accounts: string[];
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function faultEvents(opts: { firstMonth: DateTime; months?: number; apps?: number; accounts?: number; seed?: number }): EventSet {
  const random = mulberry32(opts.seed ?? 2026);
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo));
  const start = opts.firstMonth.toUTC().startOf('month');
  const months = opts.months ?? 3;
  const periods = Array.from({ length: months }, (_, m) => start.plus({ months: m }).toFormat('yyyy-MM'));
  const from = start.toMillis();
  const to = start.plus({ months }).toMillis();
  const span = to - from;
  const accounts = Array.from({ length: opts.accounts ?? 5 }, (_, i) => `acct-f${i + 1}`);
  const events: PlatformEvent[] = [];
  const sequences = new Map<string, number>();
  const emit = (source: string, type: string, atMs: number, subject: string, data: Record<string, string>) => {
    const sequence = (sequences.get(subject) ?? 0) + 1;
    sequences.set(subject, sequence);
    events.push({
      specversion: '1.0',
      id: `${subject}-${sequence}`,
      source,
      type,
      time: DateTime.fromMillis(atMs, { zone: 'utc' }).toISO({ suppressMilliseconds: true })!,
      subject,
      sequence,
      data,
    });
  };
  let dynos = 0;
  const dyno = (app: string, name: string, size: string, startMs: number, stopMs: number | undefined) => {
    const subject = `dyno-${app}-${++dynos}`;
    emit('dyno-manager', 'dyno.started', startMs, subject, { app_id: app, name, size });
    if (stopMs !== undefined) emit('dyno-manager', 'dyno.stopped', stopMs, subject, { app_id: app });
  };

  for (let i = 0; i < (opts.apps ?? 20); i++) {
    const app = `app-f${String(i + 1).padStart(2, '0')}`;
    const created = from - (i + 1) * DAY;
    emit('app-registry', 'app.owner_changed', created, app, { app_id: app, account_id: accounts[i % accounts.length]! });
    // Transfers: three apps change hands, in either month.
    if (i % 7 === 3) {
      emit('app-registry', 'app.owner_changed', from + between(5 * DAY, span - 5 * DAY), app, {
        app_id: app,
        account_id: accounts[(i + 1) % accounts.length]!,
      });
    }

    // web.1: a chain of restarts, each new dyno up 30 s before the old one stops.
    let size = ['standard-2x', 'basic', 'standard-1x', 'standard-1x', 'standard-1x'][i % 5]!;
    let t = i % 2 === 0 ? from - 2 * DAY : from + between(0, 5 * DAY);
    while (t < to - DAY) {
      const stop = Math.min(t + between(12 * HOUR, 84 * HOUR), to - HOUR);
      // One app is resized mid-way (a new line key), one leaves its last dyno running.
      if (i === 4 && t > from + 20 * DAY) size = 'performance-m';
      const last = stop - 30_000 >= to - DAY;
      dyno(app, 'web.1', size, t, i === 6 && last ? undefined : stop);
      t = stop - 30_000;
    }
    // worker.1 with gaps between dynos.
    if (i % 3 === 0) {
      for (let w = from + between(0, 3 * DAY); w < to - 2 * DAY; ) {
        const stop = w + between(DAY, 4 * DAY);
        dyno(app, 'worker.1', 'standard-1x', w, Math.min(stop, to - HOUR));
        w = stop + between(12 * HOUR, 48 * HOUR);
      }
    }
    // One-off runs of a few minutes.
    for (let r = 0; r < 3; r++) {
      const at = from + between(0, span - 2 * DAY);
      dyno(app, `run.${1000 + i * 10 + r}`, 'standard-1x', at, at + between(5 * 60_000, 60 * 60_000));
    }

    // Add-ons: PostgreSQL upgraded in steps, Redis for a while, a free Papertrail.
    if (i % 2 === 0) {
      const pg = `addon-pg-${app}`;
      emit('addon-service', 'addon.provisioned', created + HOUR, pg, { app_id: app, service: 'heroku-postgresql', plan: 'essential-0' });
      emit('addon-service', 'addon.plan_changed', from + between(2 * DAY, 28 * DAY), pg, { app_id: app, plan: 'essential-1' });
      if (i % 4 === 0)
        emit('addon-service', 'addon.plan_changed', from + between(32 * DAY, span - 2 * DAY), pg, { app_id: app, plan: 'standard-0' });
    }
    if (i % 4 === 1) {
      const redis = `addon-redis-${app}`;
      emit('addon-service', 'addon.provisioned', from + between(3 * DAY, 25 * DAY), redis, {
        app_id: app,
        service: 'heroku-redis',
        plan: 'mini',
      });
      emit('addon-service', 'addon.deprovisioned', from + between(33 * DAY, span - 3 * DAY), redis, { app_id: app });
    }
    if (i % 6 === 5) {
      emit('addon-service', 'addon.provisioned', from + between(0, span - 20 * DAY), `addon-log-${app}`, {
        app_id: app,
        service: 'papertrail',
        plan: 'choklad',
      });
    }
  }

  // Publish order: by time, then every event moved by up to 40 places, as
  // publishers of different subjects race each other (and a replayed
  // dyno.stopped can overtake its dyno.started).
  const keyed = events
    .map((e) => ({ e, k: DateTime.fromISO(e.time).toMillis() }))
    .sort((a, b) => a.k - b.k)
    .map(({ e }, n) => ({ e, k: n + random() * 40 }))
    .sort((a, b) => a.k - b.k);
  return { events: keyed.map(({ e }) => e), periods, accounts };
}

/** NDJSON bodies of `size` events each, in publish order. */
export function batches(events: PlatformEvent[], size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < events.length; i += size) {
    out.push(
      events
        .slice(i, i + size)
        .map((e) => JSON.stringify(e))
        .join('\n') + '\n',
    );
  }
  return out;
}

/**
 * How many `size`-event batches to send so that every event before `instant`
 * is in, and no subject has an event in while an earlier one of its sequence
 * is out (a hole would hold its app's invoices until the rest arrives).
 */
export function batchesBefore(events: PlatformEvent[], size: number, instant: DateTime): number {
  let last = -1;
  events.forEach((e, i) => {
    if (DateTime.fromISO(e.time) < instant) last = i;
  });
  for (let count = Math.floor(last / size) + 1; ; count++) {
    const sent = events.slice(0, count * size);
    const highest = new Map<string, number>();
    for (const e of sent) highest.set(e.subject, Math.max(highest.get(e.subject) ?? 0, e.sequence));
    const seen = new Map<string, number>();
    for (const e of sent) seen.set(e.subject, (seen.get(e.subject) ?? 0) + 1);
    if ([...highest].every(([subject, top]) => seen.get(subject) === top)) return count;
  }
}
