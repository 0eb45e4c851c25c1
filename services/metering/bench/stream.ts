// A synthetic month of platform events for the SIGKILL test and the benchmark:
// dyno start/stop pairs, add-on lifecycles, app ownership and a share of
// re-sent duplicates. Deterministic for a seed, and streamed, so any size
// fits in constant memory.

import { mulberry32 } from '@vault/simulator';

export interface StreamOptions {
  events: number;
  /** Share of messages that re-send an earlier event unchanged. */
  duplicateRate?: number;
  seed?: number;
  /** Prefix for ids and subjects, so runs never collide. */
  prefix?: string;
}

export interface StreamMessage {
  key: string;
  value: string;
}

const MONTH_START = Date.parse('2026-10-01T00:00:00Z');
const MONTH_MS = 31 * 24 * 3600 * 1000;
const SIZES = ['eco', 'basic', 'standard-1x', 'standard-2x', 'performance-m'];
const PLANS = ['essential-0', 'essential-1', 'standard-0'];

export function* billingStream(o: StreamOptions): Generator<StreamMessage> {
  const rand = mulberry32(o.seed ?? 1);
  const dupRate = o.duplicateRate ?? 0.05;
  const p = o.prefix ?? 's';
  // The last messages, for re-sends: a ring, so memory stays flat at any size.
  const recent: StreamMessage[] = [];
  let ring = 0;
  let emitted = 0;
  let n = 0;
  const at = (ms: number) => new Date(MONTH_START + Math.floor(ms)).toISOString();
  const event = (source: string, type: string, subject: string, sequence: number, time: number, data: object): StreamMessage => ({
    key: subject,
    value: JSON.stringify({ specversion: '1.0', id: `${p}-${n++}`, source, type, time: at(time), subject, sequence, data }),
  });

  let app = '';
  while (emitted < o.events) {
    // A new app (and its owner) every so often; everything else runs on the latest.
    const batch: StreamMessage[] = [];
    if (app === '' || rand() < 0.05) {
      app = `${p}-app-${n}`;
      batch.push(
        event('app-registry', 'app.owner_changed', app, 1, 0, { app_id: app, account_id: `${p}-acct-${Math.floor(rand() * 50)}` }),
      );
    }
    const start = rand() * MONTH_MS * 0.9;
    if (rand() < 0.75) {
      const dyno = `${p}-dyno-${n}`;
      const started = event('dyno-manager', 'dyno.started', dyno, 1, start, {
        app_id: app,
        name: `web.${1 + Math.floor(rand() * 4)}`,
        size: SIZES[Math.floor(rand() * SIZES.length)],
      });
      const stopped = event('dyno-manager', 'dyno.stopped', dyno, 2, start + rand() * 3 * 24 * 3600 * 1000, { app_id: app });
      // Now and then the stop is published before the start.
      batch.push(...(rand() < 0.1 ? [stopped, started] : [started, stopped]));
    } else {
      const addon = `${p}-addon-${n}`;
      let t = start;
      batch.push(event('addon-service', 'addon.provisioned', addon, 1, t, { app_id: app, service: 'heroku-postgresql', plan: PLANS[0] }));
      const changes = Math.floor(rand() * 3);
      for (let i = 0; i < changes; i++) {
        t += rand() * 2 * 24 * 3600 * 1000;
        batch.push(event('addon-service', 'addon.plan_changed', addon, 2 + i, t, { app_id: app, plan: PLANS[1 + (i % 2)] }));
      }
      if (rand() < 0.5) batch.push(event('addon-service', 'addon.deprovisioned', addon, 2 + changes, t + 3600_000, { app_id: app }));
    }
    for (const m of batch) {
      if (emitted >= o.events) return;
      yield m;
      emitted++;
      if (recent.length < 2000) recent.push(m);
      else recent[ring++ % 2000] = m;
      if (emitted < o.events && rand() < dupRate) {
        yield recent[Math.floor(rand() * recent.length)]!;
        emitted++;
      }
    }
  }
}
