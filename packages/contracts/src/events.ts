// Platform billing events, version 1 (the platform spec's events-v1.md): the
// CloudEvents 1.0 envelope and the `data` of each of the six event types.
// Objects strip unknown keys, so CloudEvents extensions and new `data` fields
// from publishers are accepted and ignored, as the contract requires.
import { z } from 'zod';
import type { ReasonCode } from './reasons.ts';

/** Kafka topic the publishers write to, unless configuration overrides it. */
export const BILLING_EVENTS_TOPIC = 'platform.billing-events.v1';

/** The six event types of version 1, in the order the spec lists them. */
export const EVENT_TYPES = [
  'app.owner_changed',
  'dyno.started',
  'dyno.stopped',
  'addon.provisioned',
  'addon.plan_changed',
  'addon.deprovisioned',
] as const;

export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

export function isEventType(value: unknown): value is EventType {
  return EventType.safeParse(value).success;
}

// `.meta({ id })` names a shared `$defs` entry in the generated JSON Schema.

/** Pattern of sizes, services and plans. */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]*$/;

// Every string of an event has a maximum length, so no field can carry more
// than a receiver means to store; the whole event is bounded too (MAX_EVENT_BYTES).

/** Longest size, service or plan name, and longest dyno name. */
export const MAX_NAME_LENGTH = 128;
/** Longest `source`. */
export const MAX_SOURCE_LENGTH = 256;
/** Longest `time` (RFC 3339 with a fraction of at most nanoseconds needs 35). */
export const MAX_TIMESTAMP_LENGTH = 40;

/** Opaque identifier: app, account, add-on or dyno instance id, event id. */
export const Id = z.string().min(1).max(128).meta({ id: 'Id', description: 'Opaque identifier of 1-128 characters' });

/** Size, service or plan name. Whether it has a price is the price book's business. */
export const Slug = z
  .string()
  .max(MAX_NAME_LENGTH)
  .regex(SLUG_PATTERN, {
    error: 'must be a slug: lowercase letters, digits and hyphens, starting with a letter or digit',
  })
  .meta({ id: 'Slug', description: 'Size, service or plan name' });

/** zod's own date (month lengths and leap days), unanchored, so the two patterns cannot disagree on dates. */
const DATE_SOURCE = z.core.regexes.date.source.slice(1, -1);

/**
 * RFC 3339 date-time with seconds and an offset: zod's `iso.datetime` pattern,
 * but `T` and `Z` in either case, as RFC 3339 §5.6's NOTE allows (zod's takes
 * upper-case only, and takes no pattern of ours, hence `stringFormat`). A time without an offset is ambiguous, so it is rejected;
 * so are a leap second (`:60`) and a space separator, which the grammar does
 * not produce (timestamp-case.test.ts holds it to zod's pattern otherwise).
 */
export const TIMESTAMP_PATTERN = new RegExp(
  `^${DATE_SOURCE}[Tt](?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d+)?(?:[Zz]|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)$`,
);

export const Timestamp = z
  .stringFormat('date-time', TIMESTAMP_PATTERN, { error: 'must be an RFC 3339 timestamp with an offset' })
  .max(MAX_TIMESTAMP_LENGTH)
  .meta({ id: 'Timestamp', description: 'RFC 3339 date-time with seconds and an offset (Z or +hh:mm / -hh:mm; T and Z in either case)' });

/** `text` in any case, as a pattern JSON Schema can carry too (it has no `i` flag). */
const anyCase = (text: string) => text.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);

/**
 * JSON as a media type (RFC 9110 8.3.1): `application/json` in any case, with
 * no parameter but `charset=utf-8` (token or quoted), spaces or tabs around its
 * `;`. The SDKs write `application/json; charset=utf-8` when they read a
 * binary-mode event and send it on structured.
 */
export const JSON_MEDIA_TYPE = new RegExp(
  `^${anyCase('application')}/${anyCase('json')}(?:[ \\t]*;[ \\t]*${anyCase('charset')}=(?:${anyCase('utf')}-8|"${anyCase('utf')}-8"))?$`,
);

/** True for a `datacontenttype` that says the data is JSON (JSON_MEDIA_TYPE). */
export function isJsonMediaType(value: unknown): boolean {
  return typeof value === 'string' && JSON_MEDIA_TYPE.test(value);
}

/** Per-subject event number. `abort` keeps a value below 1 from also failing a per-type rule. */
export const Sequence = z.int().min(1, { abort: true });

const sequenceMismatch = 'sequence_mismatch' satisfies ReasonCode;

/** A sequence that a type fixes, e.g. `dyno.started` is always 1. `const` documents it in the JSON Schema. */
function sequenceExactly(expected: number, type: EventType) {
  return Sequence.refine((n) => n === expected, {
    error: `${type} is always sequence ${expected} of its subject`,
    params: { code: sequenceMismatch },
  }).meta({ const: expected });
}

/** A sequence with a floor above 1, e.g. an add-on's later events. */
function sequenceAtLeast(minimum: number, type: EventType) {
  return Sequence.refine((n) => n >= minimum, {
    error: `${type} is never sequence 1 of its subject; must be at least ${minimum}`,
    params: { code: sequenceMismatch },
  }).meta({ minimum });
}

/** The CloudEvents 1.0 envelope shared by every type; `type` and `data` are narrowed per type below. */
export const CloudEventEnvelope = z.object({
  /** CloudEvents version; always the string "1.0". */
  specversion: z.literal('1.0'),
  /** Event id, unique per `source`; a re-sent event keeps it. `(source, id)` is the deduplication key. */
  id: Id,
  /** The publisher, e.g. `dyno-manager`, `addon-service`, `app-registry`. */
  source: z.string().min(1).max(MAX_SOURCE_LENGTH),
  /** One of {@link EVENT_TYPES}; selects the shape of `data`. */
  type: EventType,
  /** When it happened at the source. Billing uses this time, never the arrival time. */
  time: Timestamp,
  /** The billable entity: a dyno instance id, an add-on id or an app id. Also the Kafka message key. */
  subject: Id,
  /** The publisher numbers the events of one subject 1, 2, 3… with no gaps. */
  sequence: Sequence,
  /** Optional; JSON when present (JSON_MEDIA_TYPE), the default: a receiver treats it as absent. */
  datacontenttype: z
    .string()
    .refine(isJsonMediaType, {
      error: 'must be "application/json" (its only parameter, if any, charset=utf-8)',
      params: { code: 'invalid_value' satisfies ReasonCode },
    })
    .meta({ pattern: JSON_MEDIA_TYPE.source })
    .optional(),
  /** Type-specific payload; any JSON object here. */
  data: z.object({}),
});
export type CloudEventEnvelope = z.infer<typeof CloudEventEnvelope>;

export const AppOwnerChangedData = z.object({
  /** The app whose owner changes; equals the event's `subject`. */
  app_id: Id,
  /** The account that pays, from `time` on, for everything that runs on the app. */
  account_id: Id,
});
export type AppOwnerChangedData = z.infer<typeof AppOwnerChangedData>;

/** Sequence 1 is the app's creation; a later one is a transfer. */
export const AppOwnerChanged = CloudEventEnvelope.extend({
  /** Discriminator. */
  type: z.literal('app.owner_changed'),
  /** The app id. */
  subject: Id,
  /** 1 for the creation, more for a transfer. */
  sequence: Sequence,
  /** The app and its new owner. */
  data: AppOwnerChangedData,
}).refine((event) => event.data.app_id === event.subject, {
  error: 'must equal subject',
  path: ['data', 'app_id'],
  params: { code: 'app_id_mismatch' satisfies ReasonCode },
});
export type AppOwnerChanged = z.infer<typeof AppOwnerChanged>;

export const DynoStartedData = z.object({
  /** The app the dyno runs on. */
  app_id: Id,
  /** Process slot, e.g. `web.1`, `worker.3`, `run.4821`; free text, not a slug. */
  name: z.string().min(1).max(MAX_NAME_LENGTH),
  /** Dyno size, e.g. `standard-1x`. */
  size: Slug,
});
export type DynoStartedData = z.infer<typeof DynoStartedData>;

/** A dyno started. */
export const DynoStarted = CloudEventEnvelope.extend({
  /** Discriminator. */
  type: z.literal('dyno.started'),
  /** The dyno instance id. */
  subject: Id,
  /** Always 1. */
  sequence: sequenceExactly(1, 'dyno.started'),
  /** Where it runs, its slot and its size. */
  data: DynoStartedData,
});
export type DynoStarted = z.infer<typeof DynoStarted>;

export const DynoStoppedData = z.object({
  /** The app the dyno ran on. */
  app_id: Id,
});
export type DynoStoppedData = z.infer<typeof DynoStoppedData>;

/** That dyno stopped. */
export const DynoStopped = CloudEventEnvelope.extend({
  /** Discriminator. */
  type: z.literal('dyno.stopped'),
  /** The same dyno instance id as its `dyno.started`. */
  subject: Id,
  /** Always 2. */
  sequence: sequenceExactly(2, 'dyno.stopped'),
  /** The app it ran on. */
  data: DynoStoppedData,
});
export type DynoStopped = z.infer<typeof DynoStopped>;

export const AddonProvisionedData = z.object({
  /** The app the add-on is attached to. */
  app_id: Id,
  /** Add-on service, e.g. `heroku-postgresql`. */
  service: Slug,
  /** Initial plan, e.g. `essential-0`. */
  plan: Slug,
});
export type AddonProvisionedData = z.infer<typeof AddonProvisionedData>;

/** An add-on was created on an app. */
export const AddonProvisioned = CloudEventEnvelope.extend({
  /** Discriminator. */
  type: z.literal('addon.provisioned'),
  /** The add-on id. */
  subject: Id,
  /** Always 1. */
  sequence: sequenceExactly(1, 'addon.provisioned'),
  /** App, service and initial plan. */
  data: AddonProvisionedData,
});
export type AddonProvisioned = z.infer<typeof AddonProvisioned>;

export const AddonPlanChangedData = z.object({
  /** The app the add-on is attached to. */
  app_id: Id,
  /** The plan the add-on is on from `time` on. */
  plan: Slug,
});
export type AddonPlanChangedData = z.infer<typeof AddonPlanChangedData>;

/** From `time` on the add-on is on `plan`. */
export const AddonPlanChanged = CloudEventEnvelope.extend({
  /** Discriminator. */
  type: z.literal('addon.plan_changed'),
  /** The same add-on id as its `addon.provisioned`. */
  subject: Id,
  /** At least 2: sequence 1 is always the provisioning. */
  sequence: sequenceAtLeast(2, 'addon.plan_changed'),
  /** App and new plan. */
  data: AddonPlanChangedData,
});
export type AddonPlanChanged = z.infer<typeof AddonPlanChanged>;

export const AddonDeprovisionedData = z.object({
  /** The app the add-on was attached to. */
  app_id: Id,
});
export type AddonDeprovisionedData = z.infer<typeof AddonDeprovisionedData>;

/** The add-on was destroyed; its last event. */
export const AddonDeprovisioned = CloudEventEnvelope.extend({
  /** Discriminator. */
  type: z.literal('addon.deprovisioned'),
  /** The same add-on id as its `addon.provisioned`. */
  subject: Id,
  /** At least 2: sequence 1 is always the provisioning. */
  sequence: sequenceAtLeast(2, 'addon.deprovisioned'),
  /** The app it was attached to. */
  data: AddonDeprovisionedData,
});
export type AddonDeprovisioned = z.infer<typeof AddonDeprovisioned>;

/** Any valid billing event, discriminated on `type`. */
export const BillingEvent = z.discriminatedUnion('type', [
  AppOwnerChanged,
  DynoStarted,
  DynoStopped,
  AddonProvisioned,
  AddonPlanChanged,
  AddonDeprovisioned,
]);
export type BillingEvent = z.infer<typeof BillingEvent>;
