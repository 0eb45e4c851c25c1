// What every simulation must satisfy, whatever its seed, size and window:
// checked on the default demo and on generated options alike.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { DateTime } from 'luxon';
import { BillingEvent, parseEvent, PriceBook, type BillingEvent as Event } from '@vault/contracts';
import type { Simulated } from '../src/index.ts';

/** The price book the project ships (invoicing's copy of shared/spec/price-book.json). */
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

  for (const e of all) {
    // The full contract, as metering's intake reads it, with the receiver's clock at `to`.
    const parsed = parseEvent(JSON.stringify(e), { now: toMs });
    assert.ok(parsed.ok, `${e.id}: ${parsed.ok ? '' : JSON.stringify(parsed.reasons)}`);
    assert.deepEqual(BillingEvent.parse(e), e, `${e.id} has no field the contract does not know`);
    assert.ok(ms(e) >= fromMs && ms(e) < toMs, `${e.id} at ${e.time} is inside the window`);
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
  const apps = new Map(sim.apps.map((a) => [a.id, a.owner]));
  for (const [subject, list] of subjects) {
    const head = list[0]!;
    if (head.type === 'app.owner_changed') {
      assert.equal(ms(head), fromMs, `${subject} is created at the window's start`);
      assert.equal(head.data.account_id, apps.get(subject));
      assert.ok(list.every((e) => e.type === 'app.owner_changed'));
    } else if (head.type === 'dyno.started') {
      assert.ok(
        list.length <= 2 && (list[1] === undefined || (list[1].type === 'dyno.stopped' && list[1].data.app_id === head.data.app_id)),
        `${subject}: started, then at most a stop`,
      );
      assert.ok(apps.has(head.data.app_id));
    } else {
      assert.equal(head.type, 'addon.provisioned', `${subject} starts with its creation`);
      assert.ok(
        list.slice(1, -1).every((e) => e.type === 'addon.plan_changed'),
        `${subject}: only plan changes between creation and end`,
      );
      assert.ok(list.every((e) => e.data.app_id === head.data.app_id));
    }
    for (let i = 1; i < list.length; i++) assert.ok(ms(list[i - 1]!) < ms(list[i]!), `${subject} happens in sequence order`);
  }

  const transfers = [...applied, ...sim.late].filter((e) => e.type === 'app.owner_changed' && e.sequence > 1);
  assert.equal(transfers.length, 1, 'exactly one app changes hands');
  const transfer = transfers[0] as Extract<Event, { type: 'app.owner_changed' }>;
  const before = apps.get(transfer.subject)!;
  assert.notEqual(transfer.data.account_id, before, 'to another account');
  assert.ok([before, transfer.data.account_id].includes(sim.demoAccount), 'into or out of the demo account');
  assert.deepEqual(sim.summary.transfer, {
    app_id: transfer.subject,
    from_account: before,
    to_account: transfer.data.account_id,
    time: transfer.time,
  });

  // Late events: in the oldest month, each the last of its subject.
  const oldestMonthEnd = from.toUTC().startOf('month').plus({ months: 1 }).toMillis();
  assert.ok(sim.late.length >= 1 && sim.late.length <= 2);
  for (const e of sim.late) {
    assert.ok(ms(e) < oldestMonthEnd, `late ${e.id} at ${e.time} is in the oldest month`);
    const list = subjects.get(e.subject)!;
    assert.equal(list.at(-1), e, `late ${e.id} is the last event of ${e.subject}`);
  }

  for (const product of productsOf(all)) assert.ok(product in defaultPriceBook.products, `${product} has a price`);
}
