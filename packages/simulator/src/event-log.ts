// Builds the events as the platform's publishers would: each publisher numbers
// the events of a subject 1, 2, 3… in the order they happen, and an event's id
// is unique per source. Ids are `<subject>.<sequence>`: subjects are unique, so
// the id is too, and it is the same every time the same event is simulated.
import type { BillingEvent } from '@vault/contracts';

export const SOURCES = {
  apps: 'app-registry',
  dynos: 'dyno-manager',
  addons: 'addon-service',
} as const;

/** An event and its instant, for sorting without parsing `time` again. */
export interface Timed {
  ms: number;
  event: BillingEvent;
}

/** RFC 3339 in UTC, whole seconds shown without a fraction: `2026-10-03T14:00:00Z` (as luxon's `toISO({ suppressMilliseconds: true })`, without its cost per event). */
export function rfc3339(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

type Of<T extends BillingEvent['type']> = Extract<BillingEvent, { type: T }>;

export class EventLog {
  readonly all: Timed[] = [];
  private readonly sequences = new Map<string, number>();
  private readonly lastMs = new Map<string, number>();

  ownerChanged(ms: number, app: string, account: string): Of<'app.owner_changed'> {
    return this.add(ms, SOURCES.apps, app, 'app.owner_changed', { app_id: app, account_id: account });
  }

  dynoStarted(ms: number, dyno: string, app: string, name: string, size: string): Of<'dyno.started'> {
    return this.add(ms, SOURCES.dynos, dyno, 'dyno.started', { app_id: app, name, size });
  }

  dynoStopped(ms: number, dyno: string, app: string): Of<'dyno.stopped'> {
    return this.add(ms, SOURCES.dynos, dyno, 'dyno.stopped', { app_id: app });
  }

  addonProvisioned(ms: number, addon: string, app: string, service: string, plan: string): Of<'addon.provisioned'> {
    return this.add(ms, SOURCES.addons, addon, 'addon.provisioned', { app_id: app, service, plan });
  }

  addonPlanChanged(ms: number, addon: string, app: string, plan: string): Of<'addon.plan_changed'> {
    return this.add(ms, SOURCES.addons, addon, 'addon.plan_changed', { app_id: app, plan });
  }

  addonDeprovisioned(ms: number, addon: string, app: string): Of<'addon.deprovisioned'> {
    return this.add(ms, SOURCES.addons, addon, 'addon.deprovisioned', { app_id: app });
  }

  private add<T extends BillingEvent['type']>(ms: number, source: string, subject: string, type: T, data: Of<T>['data']): Of<T> {
    const last = this.lastMs.get(subject);
    // A subject's events must happen in the order they are numbered.
    if (last !== undefined && ms <= last) throw new Error(`simulator bug: ${subject} goes back in time`);
    const sequence = (this.sequences.get(subject) ?? 0) + 1;
    this.sequences.set(subject, sequence);
    this.lastMs.set(subject, ms);
    // Fields in the order of the spec's envelope table, as a publisher writes them.
    const event = {
      specversion: '1.0',
      id: `${subject}.${sequence}`,
      source,
      type,
      time: rfc3339(ms),
      subject,
      sequence,
      datacontenttype: 'application/json',
      data,
    } as Of<T>;
    this.all.push({ ms, event });
    return event;
  }
}
