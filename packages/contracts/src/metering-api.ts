// Bodies of metering's HTTP API (shared/spec/api.md), as zod schemas: the
// service builds its answers with them and clients (the CLI, tests) parse them.
import { z } from 'zod';
import { Reason } from './reasons.ts';

/** Counts are JSON numbers; money never appears here. */
const Count = z.int().min(0);

/** One refused line of a `POST /v1/events` body or a `vault publish` file. */
export const IntakeRejection = z.object({
  /** 0-based position: the array index, or the NDJSON line index (line number − 1). */
  index: Count,
  /** The event's `id` when the line had one. */
  id: z.string().nullable(),
  /** One human line naming the field(s). */
  reason: z.string(),
  reasons: z.array(Reason),
});
export type IntakeRejection = z.infer<typeof IntakeRejection>;

/** The answer to `POST /v1/events` (202): what the durable publish carried. */
export const IntakeReport = z.object({
  accepted: Count,
  duplicates: Count,
  rejected: z.array(IntakeRejection),
});
export type IntakeReport = z.infer<typeof IntakeReport>;

/** `GET /v1/stats`: counters since the database was created. */
export const MeteringStats = z.object({
  events_applied: Count,
  events_duplicate: Count,
  events_rejected: Count,
  /** Messages on the bus that metering has not yet applied. */
  consumer_lag: Count,
});
export type MeteringStats = z.infer<typeof MeteringStats>;

/** One kept rejection, as `GET /v1/rejected` lists it. */
export const RejectedEvent = z.object({
  id: z.string(),
  received_at: z.string(),
  /** The message's text as received (U+0000 shown as U+FFFD). */
  raw: z.string(),
  /** The exact bytes, base64, when `raw` is not them (not UTF-8, or holding U+0000). */
  raw_base64: z.string().nullable(),
  reason: z.string(),
  reasons: z.array(Reason),
  source: z.string().nullable(),
  event_id: z.string().nullable(),
  /** `topic/partition/offset` of the message on the bus. */
  bus_position: z.string().nullable(),
  /** Set once a fix was re-submitted and accepted. */
  resolved_at: z.string().nullable(),
  /** `source/id` of the event that resolved it. */
  resolved_by: z.string().nullable(),
});
export type RejectedEvent = z.infer<typeof RejectedEvent>;

export const RejectedQuery = z.object({
  status: z.enum(['pending', 'resolved', 'all']).default('pending'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  /** Keyset pagination: only rejections with a greater id. */
  after: z.coerce.number().int().min(0).default(0),
});

export const RejectedList = z.object({
  rejected: z.array(RejectedEvent),
  /** Pass as `after` for the next page; null on the last one. */
  next_after: z.string().nullable(),
});
export type RejectedList = z.infer<typeof RejectedList>;

/** A subject whose sequence has a hole: its usage from `unreliable_from` on is held out of invoices. */
export const SubjectGap = z.object({
  subject: z.string(),
  app_id: z.string().nullable(),
  missing_sequence: z.string(),
  unreliable_from: z.string().nullable(),
  detected_at: z.string(),
});
export type SubjectGap = z.infer<typeof SubjectGap>;

export const GapList = z.object({ gaps: z.array(SubjectGap) });
export type GapList = z.infer<typeof GapList>;
