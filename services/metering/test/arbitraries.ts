// fast-check arbitraries for metering's intake: coherent entity histories
// (dynos, add-ons, apps, each with increasing times), exact and re-serialised
// duplicates of their events, re-uses of their ids with other content,
// mutations that break the contract, and garbage (not JSON, not an object,
// not an event) — shuffled into one stream.
import fc from 'fast-check';
import type { EventType } from '@vault/contracts';
import {
  DATA_KEYS,
  known,
  lowerCased,
  mutationFor,
  rfc3339,
  shuffledKeys,
  slug,
  text,
  unknownFields,
  type Event,
} from '../../../packages/contracts/test/arbitraries.ts';

/**
 * Stands in every generated id and subject for the tag of the run that sends
 * it (same length, so length limits hold), so runs against one metering
 * never share a key or a subject, even when fast-check replays a value.
 */
export const RUN = '{{run}}';

const SECOND = 1000;
const DAY = 86_400 * SECOND;
/** Events happen in the past: the 5-minute future rule never touches the valid ones. */
const NOW = Date.now();

// Text the store can hold: U+0000 or half a surrogate pair makes a valid event
// store_refused (storable-text.ts; judge.test.ts, apply-messages.test.ts), which
// these plans do not predict.
const storable = { storable: true };
const tail = text(0, 40, storable).filter((s) => !s.includes(RUN));
const source = fc.oneof(fc.constantFrom('dyno-manager', 'addon-service', 'app-registry'), text(1, 60, storable));

export type EntityKind = 'dyno' | 'addon' | 'app';

export interface Entity {
  kind: EntityKind;
  subject: string;
  /** Sequence 1, 2, … with strictly increasing times. */
  events: Event[];
}

interface Step {
  type: EventType;
  data: Record<string, unknown>;
}

/** The steps of one entity's life, data without `app_id` for apps (it is the subject). */
const dynoSteps: fc.Arbitrary<Step[]> = fc
  .record({ app: tail, name: text(1, 20, storable), size: slug, stopped: fc.boolean() })
  .map(({ app, name, size, stopped }) => [
    { type: 'dyno.started' as const, data: { app_id: `app-${app}`, name, size } },
    ...(stopped ? [{ type: 'dyno.stopped' as const, data: { app_id: `app-${app}` } }] : []),
  ]);

const addonSteps: fc.Arbitrary<Step[]> = fc
  .record({ app: tail, service: slug, plans: fc.array(slug, { minLength: 1, maxLength: 3 }), gone: fc.boolean() })
  .map(({ app, service, plans, gone }) => [
    { type: 'addon.provisioned' as const, data: { app_id: `app-${app}`, service, plan: plans[0]! } },
    ...plans.slice(1).map((plan) => ({ type: 'addon.plan_changed' as const, data: { app_id: `app-${app}`, plan } })),
    ...(gone ? [{ type: 'addon.deprovisioned' as const, data: { app_id: `app-${app}` } }] : []),
  ]);

const appSteps: fc.Arbitrary<Step[]> = fc
  .array(text(1, 30, storable), { minLength: 1, maxLength: 3 })
  .map((accounts) => accounts.map((account_id) => ({ type: 'app.owner_changed' as const, data: { account_id } })));

/**
 * Offsets up to ±23:59, as RFC 3339 (and parseEvent) allow: beyond PostgreSQL's
 * ±15:59 the store is given the instant in UTC (storeTime).
 */
const MAX_STORABLE_OFFSET = 23 * 60 + 59;

/** An RFC 3339 rendering of `ms` in a random offset. */
const renderTime = (ms: number) =>
  fc
    .tuple(
      fc.integer({ min: -MAX_STORABLE_OFFSET, max: MAX_STORABLE_OFFSET }),
      fc.constantFrom('', '', '123'),
      fc.boolean(),
      fc.constantFrom<'upper' | 't' | 'z' | 'tz'>('upper', 'upper', 'upper', 't', 'z', 'tz'),
    )
    .map(([offset, digits, zulu, lower]) => lowerCased(rfc3339(ms, offset, digits, zulu), lower));

/** One event as a publisher sends it: unknown fields here and there, keys in any order. */
function eventOf(step: Step, subject: string, sequence: number, ms: number, id: string): fc.Arbitrary<Event> {
  return fc
    .record({
      source,
      time: renderTime(ms),
      datacontenttype: fc.boolean(),
      extra: fc.oneof(
        fc.constant({}),
        unknownFields(['specversion', 'id', 'source', 'type', 'time', 'subject', 'sequence', 'datacontenttype', 'data']),
      ),
      extraData: fc.oneof(fc.constant({}), unknownFields(DATA_KEYS[step.type])),
    })
    .chain((r) => {
      const data = { ...r.extraData, ...step.data, ...(step.type === 'app.owner_changed' ? { app_id: subject } : {}) };
      const event: Event = { ...r.extra, specversion: '1.0', id, source: r.source, type: step.type, time: r.time, subject, sequence, data };
      if (r.datacontenttype) event['datacontenttype'] = 'application/json';
      return shuffledKeys(event);
    });
}

/** The `index`-th entity of a run: its subject and ids carry RUN and the index, so they are unique. */
function entity(index: number): fc.Arbitrary<Entity> {
  return fc
    .tuple(
      fc.oneof(
        dynoSteps.map((steps) => ({ kind: 'dyno' as const, steps })),
        addonSteps.map((steps) => ({ kind: 'addon' as const, steps })),
        appSteps.map((steps) => ({ kind: 'app' as const, steps })),
      ),
      tail,
      fc.integer({ min: NOW - 90 * DAY, max: NOW - 30 * DAY }),
      fc.array(fc.integer({ min: SECOND, max: 3 * DAY }), { minLength: 4, maxLength: 4 }),
      fc.array(tail, { minLength: 4, maxLength: 4 }),
    )
    .chain(([{ kind, steps }, subjectTail, start, gaps, idTails]) => {
      const subject = `${RUN}:${index}:${subjectTail}`;
      const times = steps.map((_, i) => start + gaps.slice(0, i).reduce((a, b) => a + b, 0));
      return fc
        .tuple(...steps.map((step, i) => eventOf(step, subject, i + 1, times[i]!, `${RUN}:${index}.${i + 1}:${idTails[i]}`)))
        .map((events) => ({ kind, subject, events }));
    });
}

/** The same content again: as it was, keys reordered, or with new unknown fields. */
export function duplicateOf(e: Event): fc.Arbitrary<Event> {
  const type = e['type'] as EventType;
  return fc.oneof(
    fc.constant(e),
    shuffledKeys(e),
    fc
      .tuple(
        unknownFields(['specversion', 'id', 'source', 'type', 'time', 'subject', 'sequence', 'datacontenttype', 'data']),
        unknownFields(DATA_KEYS[type]),
      )
      .chain(([extra, extraData]) => shuffledKeys({ ...extra, ...e, data: { ...extraData, ...(e['data'] as Event) } })),
  );
}

/**
 * Its `(source, id)` with other content that is still a valid event of the
 * same subject (so on the same partition, after or before it): another data
 * value, or the same instant written in another offset ("time as sent").
 */
export function reuseOf(e: Event): fc.Arbitrary<Event> {
  const type = e['type'] as EventType;
  const data = e['data'] as Record<string, unknown>;
  const changeable = DATA_KEYS[type].filter((k) => !(type === 'app.owner_changed' && k === 'app_id'));
  const otherValue = (k: string) => (['size', 'service', 'plan'].includes(k) ? slug : text(1, 30, storable));
  const time = String(e['time']);
  const otherTime = /[Zz]$/.test(time) ? time.replace(/[Zz]$/, '+00:00') : rfc3339(Date.parse(time), 0, '', true);
  return fc
    .oneof(
      fc.constantFrom(...changeable).chain((k) => otherValue(k).map((v): Event => ({ ...e, data: { ...data, [k]: v } }))),
      fc.constant({ ...e, time: otherTime }),
    )
    .filter((v) => JSON.stringify(known(v)) !== JSON.stringify(known(e)));
}

export type PlanItem =
  /** A valid event: an entity's own, a duplicate of it, or a re-use of its id. */
  | { kind: 'valid'; value: Event }
  /** A message that breaks the contract; a reason must name `field` ('' for the whole message). */
  | { kind: 'invalid'; field: string; what: string; value?: unknown; bytes?: Uint8Array };

/** Text that JSON.parse refuses. */
const isJson = (s: string) => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};
const ENVELOPE = ['specversion', 'id', 'source', 'type', 'time', 'subject', 'sequence', 'datacontenttype', 'data'];
const utf8 = new TextDecoder('utf-8', { fatal: true });
const isUtf8Json = (b: Uint8Array) => {
  try {
    return isJson(utf8.decode(b));
  } catch {
    return false;
  }
};

/** Messages that are no event at all. */
export const garbage: fc.Arbitrary<PlanItem> = fc.oneof(
  fc
    .oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ maxLength: 30 }))
    .filter((s) => !isJson(s))
    .map((s) => ({ kind: 'invalid' as const, field: '', what: `text ${JSON.stringify(s)}`, bytes: new TextEncoder().encode(s) })),
  fc
    .uint8Array({ maxLength: 30 })
    .filter((b) => !isUtf8Json(b))
    .map((bytes) => ({ kind: 'invalid' as const, field: '', what: `bytes ${Buffer.from(bytes).toString('hex')}`, bytes })),
  fc
    .jsonValue({ maxDepth: 2 })
    .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
    .map((value) => ({ kind: 'invalid' as const, field: '', what: `JSON ${JSON.stringify(value)}`, value })),
  fc
    .dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 })
    .filter((o) => !Object.keys(o).some((k) => ENVELOPE.includes(k)))
    .map((value) => ({ kind: 'invalid' as const, field: 'specversion', what: `object ${JSON.stringify(value)}`, value })),
);

export type Door = 'array' | 'ndjson' | 'bus';

export interface Plan {
  entities: Entity[];
  /** Everything sent, in sending order. */
  items: PlanItem[];
  /** Where the stream is cut into requests / bus publishes (sorted, distinct, inside). */
  cuts: number[];
  /** How each chunk is sent; one the chunk cannot take falls back (see the test). */
  doors: Door[];
  /** Wait for the consumer between chunks (then the HTTP report is exact) or not (in flight). */
  settle: boolean;
}

/**
 * One run's stream: 1–4 entities, their events, 0–5 duplicates, 0–3 re-used
 * ids, 0–6 mutations (judged against `futureNowMs`: the receiver's clock
 * can only be later than when they were made) and 0–4 garbage messages, in
 * random order, cut into 1–4 chunks.
 */
export function plan(futureNowMs: number): fc.Arbitrary<Plan> {
  return fc
    .integer({ min: 1, max: 4 })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => entity(i))))
    .chain((entities) => {
      const events = entities.flatMap((e) => e.events);
      const pick = fc.constantFrom(...events);
      return fc.record({
        entities: fc.constant(entities),
        duplicates: fc.array(pick.chain(duplicateOf), { maxLength: 5 }),
        reuses: fc.array(pick.chain(reuseOf), { maxLength: 3 }),
        mutants: fc.array(
          pick.chain((e) => mutationFor(e['type'] as EventType, { nowMs: futureNowMs }).map((m) => ({ m, e }))),
          { maxLength: 6 },
        ),
        junk: fc.array(garbage, { maxLength: 4 }),
        settle: fc.boolean(),
        doors: fc.array(fc.constantFrom<Door>('array', 'ndjson', 'bus'), { minLength: 4, maxLength: 4 }),
        cutAt: fc.array(fc.nat(), { maxLength: 3 }),
      });
    })
    .chain((r) => {
      const items: PlanItem[] = [
        ...r.entities.flatMap((e) => e.events.map((value) => ({ kind: 'valid' as const, value }))),
        ...r.duplicates.map((value) => ({ kind: 'valid' as const, value })),
        ...r.reuses.map((value) => ({ kind: 'valid' as const, value })),
        ...r.mutants.map(({ m, e }) => ({ kind: 'invalid' as const, field: m.field, what: m.what, value: m.apply(e) })),
        ...r.junk,
      ];
      return fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length }).map((shuffled) => ({
        entities: r.entities,
        items: shuffled,
        cuts: [...new Set(r.cutAt.map((c) => 1 + (c % Math.max(1, shuffled.length - 1))))]
          .filter((c) => c < shuffled.length)
          .sort((a, b) => a - b),
        doors: r.doors,
        settle: r.settle,
      }));
    });
}
