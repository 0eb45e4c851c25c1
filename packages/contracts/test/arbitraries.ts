// fast-check arbitraries of events-v1 messages: valid events of every type,
// and mutations that break one rule of the contract, each labelled with the
// field a rejection has to name. Shared by the pure parse properties and by
// metering's intake properties (which send them to the real intake).
import fc from 'fast-check';
import { EVENT_TYPES, type EventType } from '../src/index.ts';

export type Event = Record<string, unknown>;

const MINUTE = 60_000;
const YEAR = 365 * 24 * 60 * MINUTE;
/** The contract's future limit: 5 minutes after the receiver's clock. */
export const FUTURE_LIMIT_MS = 5 * MINUTE;

export interface TextOptions {
  /**
   * Drops U+0000 from generated text. The contract allows it, but the store
   * cannot hold it, so a valid event carrying one is rejected as store_refused:
   * an intake test that counts applied events leaves it out.
   */
  storable?: boolean;
}

/**
 * Text of `min`–`max` UTF-16 code units (the contract's "characters", as zod
 * counts them): any code point, never a half of a surrogate pair.
 */
export function text(min: number, max: number, o: TextOptions = {}): fc.Arbitrary<string> {
  const any = fc.string({ unit: 'binary', minLength: min, maxLength: max });
  // Sometimes exactly at the limit, which small random strings never reach.
  const atLimit = fc.string({ unit: 'binary-ascii', minLength: max, maxLength: max });
  return fc
    .oneof({ arbitrary: any, weight: 9 }, { arbitrary: atLimit, weight: 1 })
    .map((s) => fit(o.storable ? s.replaceAll('\u0000', '') : s, max))
    .filter((s) => s.length >= min);
}

/** At most `max` code units, without leaving half of a surrogate pair at the end. */
function fit(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** Sizes, services and plans: `[a-z0-9][a-z0-9-]*`. */
export const slug = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);

/**
 * An RFC 3339 rendering of the instant `ms` at `offsetMinutes` from UTC, with
 * `extraDigits` of fraction beyond the milliseconds (which Date.parse drops).
 * Date.parse of the result is `ms`.
 */
export function rfc3339(ms: number, offsetMinutes: number, extraDigits = '', zulu = true): string {
  const wall = new Date(ms + offsetMinutes * MINUTE).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const millis = wall.slice(20, 23);
  const fraction = millis === '000' && extraDigits === '' ? '' : `.${millis}${extraDigits}`;
  const abs = Math.abs(offsetMinutes);
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = offsetMinutes === 0 && zulu ? 'Z' : `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  return `${wall.slice(0, 19)}${fraction}${offset}`;
}

/** An RFC 3339 time for an instant drawn from `instant`, in any offset and precision. */
export function timeAt(instant: fc.Arbitrary<number>): fc.Arbitrary<string> {
  return fc
    .tuple(
      instant,
      fc.oneof(fc.constant(0), fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })),
      fc.oneof({ arbitrary: fc.constant(''), weight: 3 }, { arbitrary: fc.stringMatching(/^[0-9]{1,6}$/), weight: 1 }),
      fc.boolean(),
      fc.oneof({ arbitrary: fc.constant('upper' as const), weight: 3 }, { arbitrary: fc.constantFrom(...LOWER), weight: 1 }),
    )
    .map(([ms, offset, digits, zulu, lower]) => lowerCased(rfc3339(ms, offset, digits, zulu), lower));
}

/** Which of `T` and `Z` a time is written with in lower case (RFC 3339 §5.6's NOTE allows either case). */
const LOWER = ['t', 'z', 'tz'] as const;

/** `time` with its `T` and/or `Z` in lower case: the same instant, another text. */
export function lowerCased(time: string, lower: (typeof LOWER)[number] | 'upper'): string {
  const t = lower.includes('t') ? `${time.slice(0, 10)}t${time.slice(11)}` : time;
  return lower.includes('z') ? t.replace(/Z$/, 'z') : t;
}

const ENVELOPE_KEYS = ['specversion', 'id', 'source', 'type', 'time', 'subject', 'sequence', 'datacontenttype', 'data'];

/** A `datacontenttype` saying JSON, as publishers and SDK relays write it. */
export const JSON_MEDIA_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON;charset="UTF-8"',
  'application/json\t;\tcharset=utf-8',
];

/** The `data` fields of each type, all required. */
export const DATA_KEYS: Record<EventType, readonly string[]> = {
  'app.owner_changed': ['app_id', 'account_id'],
  'dyno.started': ['app_id', 'name', 'size'],
  'dyno.stopped': ['app_id'],
  'addon.provisioned': ['app_id', 'service', 'plan'],
  'addon.plan_changed': ['app_id', 'plan'],
  'addon.deprovisioned': ['app_id'],
};

/** CloudEvents extensions and new `data` fields a publisher may add: the contract ignores them. */
export function unknownFields(known: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })
    .map((extra) => Object.fromEntries(Object.entries(extra).filter(([k]) => !known.includes(k))));
}

/** The sequences a type allows (dyno.started is 1, dyno.stopped 2, later add-on events ≥ 2). */
export function sequenceFor(type: EventType): fc.Arbitrary<number> {
  const big = (min: number) => fc.oneof(fc.integer({ min, max: 50 }), fc.integer({ min, max: Number.MAX_SAFE_INTEGER }));
  switch (type) {
    case 'dyno.started':
    case 'addon.provisioned':
      return fc.constant(1);
    case 'dyno.stopped':
      return fc.constant(2);
    case 'app.owner_changed':
      return big(1);
    case 'addon.plan_changed':
    case 'addon.deprovisioned':
      return big(2);
  }
}

export interface ValidOptions extends TextOptions {
  /** The receiver's clock, epoch ms: times are at most 5 minutes ahead of it. */
  nowMs: number;
}

/** A valid event of `type`, with unknown fields sprinkled in and its keys in any order. */
export function validEvent(type: EventType, o: ValidOptions): fc.Arbitrary<Event> {
  const id = text(1, 128, o);
  const instant = fc.integer({ min: Math.max(0, o.nowMs - 30 * YEAR), max: o.nowMs + FUTURE_LIMIT_MS });
  return fc
    .record({
      id,
      source: text(1, 256, o),
      subject: id,
      time: timeAt(instant),
      sequence: sequenceFor(type),
      datacontenttype: fc.option(fc.constantFrom(...JSON_MEDIA_TYPES), { nil: undefined }),
      app_id: id,
      account_id: id,
      name: text(1, 40, o),
      size: slug,
      service: slug,
      plan: slug,
      extra: unknownFields(ENVELOPE_KEYS),
      extraData: unknownFields(DATA_KEYS[type]),
    })
    .chain((r) => {
      const fields: Record<string, unknown> = {
        app_id: type === 'app.owner_changed' ? r.subject : r.app_id,
        account_id: r.account_id,
        name: r.name,
        size: r.size,
        service: r.service,
        plan: r.plan,
      };
      const data = { ...r.extraData, ...Object.fromEntries(DATA_KEYS[type].map((k) => [k, fields[k]])) };
      const event: Event = {
        ...r.extra,
        specversion: '1.0',
        id: r.id,
        source: r.source,
        type,
        time: r.time,
        subject: r.subject,
        sequence: r.sequence,
        data,
      };
      if (r.datacontenttype) event['datacontenttype'] = r.datacontenttype;
      return shuffledKeys(event);
    });
}

/** A valid event of any of the six types. */
export function anyValidEvent(o: ValidOptions): fc.Arbitrary<Event> {
  return fc.constantFrom(...EVENT_TYPES).chain((type) => validEvent(type, o));
}

/** The same object with its keys in another order (JSON objects are unordered). */
export function shuffledKeys<T extends Record<string, unknown>>(value: T): fc.Arbitrary<T> {
  const entries = Object.entries(value);
  return fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }).map((e) => Object.fromEntries(e) as T);
}

/** What the contract keeps of an event: the envelope and `data` fields it names, unknown ones dropped. */
export function known(event: Event): Event {
  const type = event['type'] as EventType;
  const data = event['data'] as Record<string, unknown>;
  const out: Event = {};
  for (const k of ENVELOPE_KEYS) if (k in event && k !== 'data') out[k] = event[k];
  out['data'] = Object.fromEntries(DATA_KEYS[type].map((k) => [k, data[k]]));
  return out;
}

// ---------------------------------------------------------------------------
// Mutations: each breaks one rule and names the field the rejection must name.

export interface Mutation {
  /** The dotted path of the broken field ('' for the whole message). */
  field: string;
  /** What was done, for a failing run's report. */
  what: string;
  apply(event: Event): Event;
}

const set =
  (path: string, value: unknown) =>
  (event: Event): Event => {
    const [head, tail] = path.split('.') as [string, string | undefined];
    if (tail === undefined) return { ...event, [head]: value };
    return { ...event, [head]: { ...(event[head] as Event), [tail]: value } };
  };

const drop =
  (path: string) =>
  (event: Event): Event => {
    const [head, tail] = path.split('.') as [string, string | undefined];
    if (tail === undefined) {
      const { [head]: _gone, ...rest } = event;
      return rest;
    }
    const { [tail]: _gone, ...rest } = event[head] as Event;
    return { ...event, [head]: rest };
  };

const mutation = (field: string, what: string, apply: (e: Event) => Event): Mutation => ({ field, what, apply });

/** A JSON value that is not a string. */
const notString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);

/** A JSON value that is not an object. */
const notObject = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
);

/** A JSON value that is not an integer. */
const notInteger = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
  fc.integer({ min: 1, max: 9 }).map(String),
  fc.boolean(),
  fc.constant(null),
  fc.constant([1]),
  fc.constant({ n: 1 }),
);

/** Strings that do not look like an RFC 3339 timestamp with seconds and an offset. */
const STRICT_RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const badTime = fc.oneof(
  fc.constantFrom(
    '2026-10-01T00:00:00', // no offset
    '2026-10-01 00:00:00Z',
    '2026-10-01t00:00:00 Z',
    '2026-10-01T00:00:60z',
    '2026-10-01T00:00Z',
    '2026-10-01T00:00:00+0200',
    '2026-13-01T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2026-10-32T00:00:00Z',
    '2026-10-01T24:00:00Z',
    '2026-10-01T00:60:00Z',
    '2026-10-01T00:00:00+24:00',
    '2026-10-01',
    'yesterday',
    '',
  ),
  fc.string({ maxLength: 30 }).filter((s) => !STRICT_RFC3339.test(s)),
);

/** Strings that are not a slug. */
const notSlug = fc.oneof(
  fc.constantFrom('', '-basic', 'Standard-1X', 'heroku_postgresql', 'heroku postgresql', 'essential.0', ' mini'),
  fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/^[a-z0-9][a-z0-9-]*$/.test(s)),
);

/** Strings longer than `max` code units. */
const tooLong = (max: number) =>
  fc.integer({ min: max + 1, max: max * 3 }).chain((n) => fc.string({ unit: 'binary-ascii', minLength: n, maxLength: n }));

/** Sequences a type refuses though they are integers ≥ 1. */
function wrongSequenceFor(type: EventType): fc.Arbitrary<number> | undefined {
  switch (type) {
    case 'dyno.started':
    case 'addon.provisioned':
      return fc.integer({ min: 2, max: Number.MAX_SAFE_INTEGER });
    case 'dyno.stopped':
      return fc.oneof(fc.constant(1), fc.integer({ min: 3, max: Number.MAX_SAFE_INTEGER }));
    case 'addon.plan_changed':
    case 'addon.deprovisioned':
      return fc.constant(1);
    case 'app.owner_changed':
      return undefined;
  }
}

export interface MutationOptions {
  /** The receiver's clock, epoch ms, for the future rule. */
  nowMs: number;
  /** Leave out mutations that change `type` or break a rule between two fields: composing them hides other faults. */
  composable?: boolean;
}

/** One mutation that makes an event of `type` break the contract. */
export function mutationFor(type: EventType, o: MutationOptions): fc.Arbitrary<Mutation> {
  const ids = ['id', 'subject', 'data.app_id', ...(type === 'app.owner_changed' ? ['data.account_id'] : [])];
  const strings = ['id', 'source', 'time', 'subject', ...DATA_KEYS[type].map((k) => `data.${k}`)];
  const required = [
    'specversion',
    'id',
    'source',
    'time',
    'subject',
    'sequence',
    'data',
    ...DATA_KEYS[type].map((k) => `data.${k}`),
    ...(o.composable ? [] : ['type']),
  ];
  const slugs = DATA_KEYS[type].filter((k) => ['size', 'service', 'plan'].includes(k));
  const wrongSequence = wrongSequenceFor(type);
  const future = fc.integer({ min: o.nowMs + FUTURE_LIMIT_MS + 1, max: Math.min(o.nowMs + 50 * YEAR, Date.UTC(9998, 0)) });

  const options: fc.Arbitrary<Mutation>[] = [
    fc.constantFrom(...required).map((f) => mutation(f, `drop ${f}`, drop(f))),
    fc.tuple(fc.constantFrom(...strings), notString).map(([f, v]) => mutation(f, `${f} = ${JSON.stringify(v)}`, set(f, v))),
    notObject.map((v) => mutation('data', `data = ${JSON.stringify(v)}`, set('data', v))),
    notInteger.map((v) => mutation('sequence', `sequence = ${JSON.stringify(v)}`, set('sequence', v))),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 0 }).map((v) => mutation('sequence', `sequence = ${v}`, set('sequence', v))),
    fc.constantFrom(2 ** 53, 1e300).map((v) => mutation('sequence', `sequence = ${v}`, set('sequence', v))),
    badTime.map((v) => mutation('time', `time = ${JSON.stringify(v)}`, set('time', v))),
    timeAt(future).map((v) => mutation('time', `time = ${v} (ahead of ${new Date(o.nowMs).toISOString()})`, set('time', v))),
    fc.tuple(fc.constantFrom(...ids), tooLong(128)).map(([f, v]) => mutation(f, `${f} of ${v.length} chars`, set(f, v))),
    tooLong(256).map((v) => mutation('source', `source of ${v.length} chars`, set('source', v))),
    fc.constantFrom(...ids, 'source', ...(type === 'dyno.started' ? ['data.name'] : [])).map((f) => mutation(f, `${f} = ""`, set(f, ''))),
    fc
      .oneof(fc.constantFrom('0.3', '1', '1.0 ', '2.0'), fc.constant(1))
      .map((v) => mutation('specversion', `specversion = ${JSON.stringify(v)}`, set('specversion', v))),
    fc
      .constantFrom(
        'text/plain',
        'application/cloudevents+json',
        '',
        'application/json; charset=latin1',
        'application/json;',
        'application/json ',
      )
      .map((v) => mutation('datacontenttype', `datacontenttype = ${v}`, set('datacontenttype', v))),
  ];
  if (slugs.length > 0) {
    options.push(
      fc
        .tuple(fc.constantFrom(...slugs), notSlug)
        .map(([k, v]) => mutation(`data.${k}`, `data.${k} = ${JSON.stringify(v)}`, set(`data.${k}`, v))),
    );
  }
  if (wrongSequence) {
    options.push(wrongSequence.map((v) => mutation('sequence', `${type} with sequence ${v}`, set('sequence', v))));
  }
  if (!o.composable) {
    options.push(
      fc
        .oneof(
          fc.string({ maxLength: 20 }).filter((t) => !(EVENT_TYPES as readonly string[]).includes(t)),
          fc.constantFrom('dyno.exploded', 'dyno.Started', ' dyno.started', 'dyno.started ', 'DYNO.STARTED'),
        )
        .map((v) => mutation('type', `type = ${JSON.stringify(v)}`, set('type', v))),
    );
    if (type === 'app.owner_changed') {
      options.push(
        fc.constant(mutation('data.app_id', 'data.app_id ≠ subject', (e) => set('data.app_id', `${String(e['subject'])}-other`)(e))),
      );
    }
  }
  return fc.oneof(...options);
}

/** A valid event and one mutation of it. */
export function mutatedEvent(o: ValidOptions): fc.Arbitrary<{ original: Event; mutation: Mutation; value: Event }> {
  return fc
    .constantFrom(...EVENT_TYPES)
    .chain((type) => fc.tuple(validEvent(type, o), mutationFor(type, { nowMs: o.nowMs })))
    .map(([original, mutation]) => ({ original, mutation, value: mutation.apply(original) }));
}
