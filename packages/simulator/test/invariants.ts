// What every simulation must satisfy, whatever its seed, size and window:
// checked on the default demo and on generated options alike.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { DateTime } from 'luxon';
import { BillingEvent, parseEvent, PriceBook, type BillingEvent as Event } from '@vault/contracts';
import { JOB_NAME, PLATFORM_START, type Simulated } from '../src/index.ts';
import { rfc3339 } from '../src/event-log.ts';

/** The price book the project ships (invoicing's copy of the platform spec's price-book.json). */
export const defaultPriceBook: PriceBook = PriceBook.parse(
  JSON.parse(readFileSync(new URL('../../../services/invoicing/data/price-book.json', import.meta.url), 'utf8')),
);

const ms = (e: Event) => Date.parse(e.time);
const key = (e: Event) => `${e.source}\u0000${e.id}`;

/** First occurrences, in publish order: what a receiver applies. */
export function unique(events: readonly Event[]): Event[] {
  const seen = new Set<string>();
  return events.filter((e) => !seen.has(key(e)) && (seen.add(key(e)), true));
}

export function bySubject(events: readonly Event[]): Map<string, Event[]> {
  const out = new Map<string, Event[]>();
  for (const e of events) out.set(e.subject, [...(out.get(e.subject) ?? []), e]);
  return out;
}

function assertNoGaps(events: readonly Event[], what: string): void {
  for (const [subject, list] of bySubject(events)) {
    assert.deepEqual(
      list.map((e) => e.sequence),
      list.map((_, i) => i + 1),
      `${what}: ${subject} is numbered 1, 2, 3… in publish order`,
    );
  }
}

/** The products that `events` use: `dyno:<size>` and `addon:<service>:<plan>`. */
export function productsOf(events: readonly Event[]): Set<string> {
  const services = new Map<string, string>();
  const products = new Set<string>();
  for (const e of events) {
    if (e.type === 'dyno.started') products.add(`dyno:${e.data.size}`);
    if (e.type === 'addon.provisioned') {
      services.set(e.subject, e.data.service);
      products.add(`addon:${e.data.service}:${e.data.plan}`);
    }
    if (e.type === 'addon.plan_changed') products.add(`addon:${services.get(e.subject)}:${e.data.plan}`);
  }
  return products;
}

export function checkInvariants(sim: Simulated, from: DateTime, to: DateTime): void {
  const all = [...sim.events, ...sim.late];
  const fromMs = from.toMillis();
  const toMs = to.toMillis();
  const firstMonth = from.toUTC().startOf('month');
  const appIds = new Set(sim.apps.map((a) => a.id));

  for (const e of all) {
    // The full contract, as metering's intake reads it, with the receiver's clock at `to`.
    const parsed = parseEvent(JSON.stringify(e), { now: toMs });
    assert.ok(parsed.ok, `${e.id}: ${parsed.ok ? '' : JSON.stringify(parsed.reasons)}`);
    assert.deepEqual(BillingEvent.parse(e), e, `${e.id} has no field the contract does not know`);
    assert.ok(ms(e) < toMs, `${e.id} at ${e.time} is before the window's end`);
    assert.ok(ms(e) >= PLATFORM_START.toMillis(), `${e.id} at ${e.time} is not before the platform starts`);
    // Before `from`, only what exists at `from`: the apps since their creation, the rest within `from`'s month.
    if (!appIds.has(e.subject)) assert.ok(ms(e) >= firstMonth.toMillis(), `${e.id} at ${e.time} is in the window's first month or later`);
  }

  const applied = unique(sim.events);
  const lateIds = new Set(sim.late.map(key));
  assert.ok(
    applied.every((e) => !lateIds.has(key(e))),
    'no late event is among the events',
  );
  assertNoGaps(applied, 'events without the late ones');
  assertNoGaps([...applied, ...sim.late], 'events and late ones');

  // Re-sent copies are identical to the first; everything else is unique per source.
  const first = new Map<string, string>();
  let copies = 0;
  for (const e of sim.events) {
    const json = JSON.stringify(e);
    const seen = first.get(key(e));
    if (seen === undefined) first.set(key(e), json);
    else {
      assert.equal(json, seen, `${e.id} is re-sent unchanged`);
      copies++;
    }
  }
  assert.equal(copies, sim.summary.duplicates);
  assert.ok(copies >= 1, 'at least one event is re-sent');

  // Publish order is time order (copies come later), each subject's in sequence.
  for (let i = 1; i < applied.length; i++) {
    assert.ok(ms(applied[i - 1]!) <= ms(applied[i]!), `${applied[i]!.id} is not published before an earlier event`);
  }

  const sources = {
    'app.owner_changed': 'app-registry',
    'dyno.started': 'dyno-manager',
    'dyno.stopped': 'dyno-manager',
    'addon.provisioned': 'addon-service',
    'addon.plan_changed': 'addon-service',
    'addon.deprovisioned': 'addon-service',
  } as const;
  for (const e of all) assert.equal(e.source, sources[e.type], `${e.id} comes from its publisher`);

  const subjects = bySubject([...applied, ...sim.late]);
  const owners = new Map(sim.apps.map((a) => [a.id, a.owner]));
  assert.equal(sim.accounts[0], sim.demoAccount, 'the demo account comes first');
  for (const app of appIds) assert.ok(subjects.has(app), `${app} has its history in every window`);
  for (const [subject, list] of subjects) {
    const head = list[0]!;
    if (head.type === 'app.owner_changed') {
      assert.ok(appIds.has(subject));
      assert.equal(head.time, rfc3339(PLATFORM_START.toMillis()), `${subject} is created when the platform starts`);
      assert.ok(list.every((e) => e.type === 'app.owner_changed'));
      const atFrom = list.filter((e) => ms(e) <= fromMs).at(-1) as Extract<Event, { type: 'app.owner_changed' }>;
      assert.equal(atFrom.data.account_id, owners.get(subject), `apps names ${subject}'s owner at the window's start`);
    } else if (head.type === 'dyno.started') {
      assert.ok(
        list.length <= 2 && (list[1] === undefined || (list[1].type === 'dyno.stopped' && list[1].data.app_id === head.data.app_id)),
        `${subject}: started, then at most a stop`,
      );
      assert.ok(appIds.has(head.data.app_id));
    } else {
      assert.equal(head.type, 'addon.provisioned', `${subject} starts with its creation`);
      assert.ok(
        list.slice(1, -1).every((e) => e.type === 'addon.plan_changed'),
        `${subject}: only plan changes between creation and end`,
      );
      assert.ok(list.every((e) => e.data.app_id === head.data.app_id));
    }
    // A dyno or add-on that ended before the window is none of its business.
    const last = list.at(-1)!;
    if (ms(last) < fromMs)
      assert.ok(last.type !== 'dyno.stopped' && last.type !== 'addon.deprovisioned', `${subject} still exists at from`);
    for (let i = 1; i < list.length; i++) assert.ok(ms(list[i - 1]!) < ms(list[i]!), `${subject} happens in sequence order`);
  }

  // Apps change hands only into or out of the demo account; any six days hold a change.
  const transfers = [...applied, ...sim.late].filter(
    (e): e is Extract<Event, { type: 'app.owner_changed' }> => e.type === 'app.owner_changed' && e.sequence > 1 && ms(e) >= fromMs,
  );
  const ownerBefore = (e: Extract<Event, { type: 'app.owner_changed' }>) =>
    (subjects.get(e.subject)!.find((x) => x.sequence === e.sequence - 1) as Extract<Event, { type: 'app.owner_changed' }>).data.account_id;
  for (const t of transfers) {
    assert.notEqual(t.data.account_id, ownerBefore(t), `${t.id}: to another account`);
    assert.ok([ownerBefore(t), t.data.account_id].includes(sim.demoAccount), `${t.id}: into or out of the demo account`);
  }
  assert.deepEqual(
    sim.summary.transfers,
    transfers.map((t) => ({ app_id: t.subject, from_account: ownerBefore(t), to_account: t.data.account_id, time: t.time })),
  );
  if (toMs - fromMs >= 6 * 86_400_000) assert.ok(transfers.length >= 1, 'a window of six days or more holds a transfer');

  // Late events: two stops of the late host's job, whole in the oldest month, each the last of its subject.
  const oldestMonthEnd = firstMonth.plus({ months: 1 }).toMillis();
  assert.equal(sim.late.length, 2);
  for (const e of sim.late) {
    assert.equal(e.type, 'dyno.stopped');
    assert.ok(ms(e) < oldestMonthEnd, `late ${e.id} at ${e.time} is in the oldest month`);
    const list = subjects.get(e.subject)!;
    assert.equal(list.at(-1), e, `late ${e.id} is the last event of ${e.subject}`);
    const start = list[0]!;
    assert.ok(
      start.type === 'dyno.started' && start.data.name === JOB_NAME && ms(start) >= fromMs,
      `late ${e.id}: a job run inside the window`,
    );
    assert.equal(owners.get(start.data.app_id), sim.demoAccount, 'on a demo app');
  }

  for (const product of productsOf(all)) assert.ok(product in defaultPriceBook.products, `${product} has a price`);
}
