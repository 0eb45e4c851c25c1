/**
 * The usage of subjects without a history, derived from a batch's own events
 * as the SQL derivation (consumer/derive-usage.ts) derives it, so PostgreSQL
 * stores the rows instead of sorting, windowing and materializing the events
 * again (issue 20). Only a subject whose events are numbered 1..n without a
 * hole or a repeat, each field its rows are made of a string (a missing or
 * other one is the SQL's to refuse or read), is derived here; any other is
 * left to the SQL, which stays the reference
 * (test/derive-equivalence.test.ts holds the two equal). A batch with a
 * subject id holding a surrogate code unit is left to the SQL whole.
 *
 * Instants are not compared here: an interval's bounds go to PostgreSQL as
 * the events' own `time` texts (storeTime: as sent, unless the offset is
 * beyond PostgreSQL's), and the insert drops an empty one there, as the SQL
 * does (`next_time > time`), at PostgreSQL's precision.
 */

import { storeTime } from './store-time.ts';

/** What the derivation reads of a new event. */
export interface NewEvent {
  subject: string;
  type: string;
  sequence: number;
  time: string;
  data: Readonly<Record<string, unknown>>;
}

/** Usage intervals, column by column (what the insert unnests): from `from` until `until` (null: open). */
export interface UsageColumns {
  subject: string[];
  kind: string[];
  appId: string[];
  key: string[];
  product: string[];
  from: string[];
  until: (string | null)[];
}

/** Owners of apps, column by column, from `from` until `until` (null: open). */
export interface OwnerColumns {
  appId: string[];
  accountId: string[];
  from: string[];
  until: (string | null)[];
}

export interface NewSubjectUsage {
  usage: UsageColumns;
  owners: OwnerColumns;
  /** How many subjects were derived here. */
  derived: number;
  /** The subjects left to the SQL derivation. */
  inSql: string[];
}

const USAGE_TYPES = new Set(['dyno.started', 'addon.provisioned', 'addon.plan_changed']);
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Derives the subjects of the `items`' events for which `isNew` holds (none of their
 * events stored before) that it can; the rest are listed. Columns, not row
 * objects: this runs for every batch, and its garbage is the consumer's.
 */
export function newSubjectUsage(items: readonly { event: NewEvent }[], isNew: (subject: string) => boolean): NewSubjectUsage {
  // Each new subject's events chained (latest first) from its entry: no list per subject.
  const latest = new Map<string, number>();
  const earlier = new Int32Array(items.length);
  const out: NewSubjectUsage = {
    usage: { subject: [], kind: [], appId: [], key: [], product: [], from: [], until: [] },
    owners: { appId: [], accountId: [], from: [], until: [] },
    derived: 0,
    inSql: [],
  };
  for (let i = 0; i < items.length; i++) {
    const subject = items[i]!.event.subject;
    // Half a surrogate pair reaches PostgreSQL as U+FFFD: two subjects here, new or not, may be
    // one there. Grouping by what PostgreSQL will hold is the SQL's to do, for the whole batch.
    if (SURROGATE.test(subject)) return { ...out, inSql: [...new Set(items.map((x) => x.event.subject).filter(isNew))] };
    if (!isNew(subject)) continue;
    earlier[i] = latest.get(subject) ?? -1;
    latest.set(subject, i);
  }
  const list: NewEvent[] = [];
  for (const [subject, last] of latest) {
    list.length = 0;
    for (let i = last; i >= 0; i = earlier[i]!) list.push(items[i]!.event);
    // By sequence, equal ones in the order given (a repeated sequence goes to the SQL anyway).
    list.reverse();
    if (list.length > 1) insertionSort(list);
    const usageRows = out.usage.subject.length;
    const ownerRows = out.owners.appId.length;
    if (derive(subject, list, out)) out.derived++;
    else {
      truncate(out.usage, usageRows);
      truncate(out.owners, ownerRows);
      out.inSql.push(subject);
    }
  }
  return out;
}

/** Stable, in place: a subject has a few events in a batch. */
function insertionSort(list: NewEvent[]): void {
  for (let i = 1; i < list.length; i++) {
    const e = list[i]!;
    let j = i - 1;
    for (; j >= 0 && list[j]!.sequence > e.sequence; j--) list[j + 1] = list[j]!;
    list[j + 1] = e;
  }
}

/**
 * Each event lasts until the subject's next one; an add-on's service is named
 * by its first. False for a subject not numbered 1..n (a hole, a repeat: the
 * SQL's `sequence = rn`), one with events after its deprovisioning (the SQL's
 * `ended`), or one whose row would hold a null, which the store refuses: the
 * SQL meets that refusal itself.
 */
function derive(subject: string, list: NewEvent[], out: NewSubjectUsage): boolean {
  const { usage, owners } = out;
  const service = text(list[0]!.data.service);
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (e.sequence !== i + 1) return false;
    // Anything after an add-on's last event (its deprovisioning) is the SQL's to leave out.
    if (e.type === 'addon.deprovisioned' && i + 1 < list.length) return false;
    const next = list[i + 1];
    const until = next === undefined ? null : storeTime(next.time);
    if (USAGE_TYPES.has(e.type)) {
      const dyno = e.type === 'dyno.started';
      const appId = text(e.data.app_id);
      const key = dyno ? text(e.data.name) : subject;
      const part = dyno ? text(e.data.size) : text(e.data.plan);
      if (appId === null || key === null || part === null || (!dyno && service === null)) return false;
      usage.subject.push(subject);
      usage.kind.push(dyno ? 'dyno' : 'addon');
      usage.appId.push(appId);
      usage.key.push(key);
      usage.product.push(dyno ? `dyno:${part}` : `addon:${service}:${part}`);
      usage.from.push(storeTime(e.time));
      usage.until.push(until);
    } else if (e.type === 'app.owner_changed') {
      const accountId = text(e.data.account_id);
      if (accountId === null) return false;
      owners.appId.push(subject);
      owners.accountId.push(accountId);
      owners.from.push(storeTime(e.time));
      owners.until.push(until);
    }
  }
  return true;
}

function truncate(columns: UsageColumns | OwnerColumns, length: number): void {
  for (const column of Object.values(columns) as unknown[][]) column.length = length;
}

/** jsonb's `->>` of a string; anything else (a number's text, an object's JSON) is left to the SQL. */
const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
